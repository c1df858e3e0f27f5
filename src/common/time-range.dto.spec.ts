import 'reflect-metadata';
import { IsOptional, IsString } from 'class-validator';
import { DomainException, type FieldProblem } from './errors.js';
import { PagedTimeRangeQueryDto, TimeRangeQueryDto } from './time-range.dto.js';
import { createValidationPipe } from './validation.js';

class WindowQuery extends TimeRangeQueryDto {}

class ListQuery extends PagedTimeRangeQueryDto(50, 500) {
  @IsOptional()
  @IsString()
  actor?: string;
}

const pipe = createValidationPipe();
const parse = (metatype: new () => object, value: Record<string, unknown>) =>
  pipe.transform(value, { type: 'query', metatype });

async function problems(metatype: new () => object, value: Record<string, unknown>) {
  try {
    await parse(metatype, value);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(DomainException);
    return (err as DomainException).details as FieldProblem[];
  }
}

describe('time range and page size queries', () => {
  it('accepts ISO 8601 bounds and a numeric limit next to the module’s own fields', async () => {
    const q = (await parse(ListQuery, {
      from: '2025-01-01T00:00:00Z',
      to: '2025-02-01',
      limit: '20',
      actor: 'alice',
    })) as ListQuery;
    expect(q).toMatchObject({ from: '2025-01-01T00:00:00Z', to: '2025-02-01', limit: 20 });
    expect(q.actor).toBe('alice');
  });

  it('names the field of each problem, with the same messages as before', async () => {
    expect(await problems(ListQuery, { from: 'yesterday', limit: '0' })).toEqual([
      { path: 'from', message: 'must be a valid ISO 8601 date string' },
      { path: 'limit', message: 'must not be less than 1' },
    ]);
    expect(await problems(ListQuery, { to: 'soon', limit: '501' })).toEqual([
      { path: 'to', message: 'must be a valid ISO 8601 date string' },
      { path: 'limit', message: 'must not be greater than 500' },
    ]);
  });

  it('each module keeps its own page size bound; a window alone has no limit', async () => {
    const Wide = PagedTimeRangeQueryDto(100, 1000);
    expect(await problems(Wide, { limit: '1000' })).toEqual([]);
    expect(await problems(Wide, { limit: '1001' })).toEqual([
      { path: 'limit', message: 'must not be greater than 1000' },
    ]);
    expect(await problems(WindowQuery, { limit: '5' })).toEqual([
      { path: 'limit', message: 'property limit should not exist' },
    ]);
  });
});
