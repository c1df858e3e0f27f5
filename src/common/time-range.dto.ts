import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, Max, Min } from 'class-validator';

/** `from` and `to` of a query over a time window: [from, to), both ISO 8601 and optional. */
export class TimeRangeQueryDto {
  @ApiPropertyOptional({ description: 'ISO 8601, inclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'ISO 8601, exclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

/**
 * A base for list queries: the time window plus `limit`, the page size (1 to `maxLimit`; the
 * controller applies `defaultLimit` when it is absent). Module query DTOs extend the result.
 */
export function PagedTimeRangeQueryDto(defaultLimit: number, maxLimit: number) {
  class PagedTimeRangeQuery extends TimeRangeQueryDto {
    @ApiPropertyOptional({ default: defaultLimit, minimum: 1, maximum: maxLimit })
    @IsOptional()
    @Type(() => Number)
    @IsInt()
    @Min(1)
    @Max(maxLimit)
    limit?: number;
  }
  return PagedTimeRangeQuery;
}
