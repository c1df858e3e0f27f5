import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import { AbilityGuard } from './ability.guard.js';
import { ApiTokenEntity } from './api-token.entity.js';
import { ApiTokenStrategy } from './api-token.strategy.js';
import { ApiTokensService } from './api-tokens.service.js';
import { AuthAcl } from './auth.acl.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { AuthenticationGuard } from './authentication.guard.js';
import { AbilityFactory } from '../common/access/ability.factory.js';
import { JwtStrategy } from './jwt.strategy.js';
import { LoginThrottleEntity } from './login-throttle.entity.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { SessionEntity } from './session.entity.js';
import { SessionsService } from './sessions.service.js';
import { UserEntity } from './user.entity.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [
    DiscoveryModule,
    TypeOrmModule.forFeature([UserEntity, ApiTokenEntity, SessionEntity, LoginThrottleEntity]),
    PassportModule,
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: deriveKey(config.secretKey, 'jwt'),
        signOptions: {
          algorithm: 'HS256',
          expiresIn: config.jwtTtlSeconds,
          issuer: 'firebreak',
          audience: 'firebreak',
        },
      }),
    }),
  ],
  controllers: [AuthController, UsersController],
  providers: [
    AuthService,
    UsersService,
    ApiTokensService,
    SessionsService,
    LoginThrottleService,
    JwtStrategy,
    ApiTokenStrategy,
    AbilityFactory,
    AuthAcl,
    // Order matters: authenticate first, then check the route's required ability.
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: AbilityGuard },
  ],
  exports: [UsersService, AbilityFactory, LoginThrottleService],
})
export class AuthModule {}
