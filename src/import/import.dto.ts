import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';

export class ImportFileDto {
  @ApiProperty({ description: 'The file name the report uses (no folders), e.g. jobs.yaml' })
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  @Matches(/^(?!\.)[^/\\\0]+$/, {
    message: 'name must be a plain file name: no folders, no leading dot',
  })
  name!: string;

  @ApiProperty({ description: 'The file content (YAML or XML)' })
  @IsString()
  @MaxLength(4 * 1024 * 1024)
  content!: string;
}

export class ImportRequestDto {
  @ApiProperty({ example: 'rundeck', description: 'The kind of input (firebreak import --help)' })
  @IsString()
  kind!: string;

  @ApiProperty({ type: ImportFileDto, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  @Type(() => ImportFileDto)
  files!: ImportFileDto[];

  @ApiPropertyOptional({
    description: 'Write the runbooks into RUNBOOKS_DIR and sync (default false: report only)',
  })
  @IsOptional()
  @IsBoolean()
  write?: boolean;

  @ApiPropertyOptional({ description: 'Replace existing files (default false: refused)' })
  @IsOptional()
  @IsBoolean()
  overwrite?: boolean;
}
