// The SNMS face's wire shapes (src/faces/snms/shapes.ts): registry results in, the SNMS JSON stated literally out.
import { describe, expect, it } from 'vitest';
import type { DelegatedPrefix } from '../../registry/enterprises.js';
import type { ItemResult } from '../../registry/identifiers.js';
import { SnmsError } from '../../src/faces/snms/envelope.js';
import {
  batchDeleteData,
  batchWriteData,
  detailData,
  parseShanghaiDateTime,
  prefixDetailData,
  prefixPageData,
  shanghaiDateTime,
  singleWriteResult,
} from '../../src/faces/snms/shapes.js';
import { value } from '../helpers/values.js';

/** The status and message of the SnmsError `fn` throws ('returned' when it does not throw). */
function thrown(fn: () => void): [number, string] | 'returned' {
  try {
    fn();
    return 'returned';
  } catch (e) {
    if (e instanceof SnmsError) return [e.status, e.message];
    throw e;
  }
}

const RESULTS: ItemResult[] = [
  { handle: '88.320924.1/a', outcome: 'created' },
  { handle: '88.320924.1/a', outcome: 'unchanged' },
  { handle: '88.320924.1/b', outcome: 'updated' },
  { handle: '88.320924.1/c', outcome: 'exists' },
  { handle: '88.320924.1/d', outcome: 'not-found' },
  { handle: '99.1/e', outcome: 'forbidden' },
  { handle: '', outcome: 'invalid', problem: { kind: 'not-an-object' } },
  { handle: '', outcome: 'invalid', problem: { kind: 'missing-handle' } },
  { handle: 'noslash', outcome: 'invalid', problem: { kind: 'bad-handle', message: "Handle has no '/' between prefix and suffix" } },
  { handle: '88.320924.1/f', outcome: 'invalid', problem: { kind: 'missing-template-version' } },
  { handle: '88.320924.1/g', outcome: 'invalid', problem: { kind: 'template-version-too-long', max: 128 } },
  { handle: '88.320924.1/h', outcome: 'invalid', problem: { kind: 'no-template', templateVersion: '9.9' } },
  { handle: '88.320924.1/i', outcome: 'invalid', problem: { kind: 'values', message: '缺少必填项名称(name，索引2000) / required item name (index 2000) is missing' } },
];

describe('SNMS identifier shapes', () => {
  it('batchCreate / batchUpdate data: [{handle, msg}] in item order, "success" for every success', () => {
    expect(JSON.stringify(batchWriteData(RESULTS))).toBe(
      '[' +
        '{"handle":"88.320924.1/a","msg":"success"},' +
        '{"handle":"88.320924.1/a","msg":"success"},' +
        '{"handle":"88.320924.1/b","msg":"success"},' +
        '{"handle":"88.320924.1/c","msg":"标识已存在"},' +
        '{"handle":"88.320924.1/d","msg":"标识不存在"},' +
        '{"handle":"99.1/e","msg":"无权操作该前缀 / no permission for this prefix"},' +
        '{"handle":"","msg":"标识数据必须是对象 / each item must be an object"},' +
        '{"handle":"","msg":"缺少必要的请求参数: handle"},' +
        '{"handle":"noslash","msg":"标识格式错误 / invalid handle: Handle has no \'/\' between prefix and suffix"},' +
        '{"handle":"88.320924.1/f","msg":"缺少必要的请求参数: templateVersion"},' +
        '{"handle":"88.320924.1/g","msg":"templateVersion 长度不能超过128 / templateVersion is too long"},' +
        '{"handle":"88.320924.1/h","msg":"模板不存在 / template not found"},' +
        '{"handle":"88.320924.1/i","msg":"缺少必填项名称(name，索引2000) / required item name (index 2000) is missing"}' +
        ']',
    );
    expect(batchWriteData([])).toEqual([]);
  });

  it('batchDelete data: [{handle, code: 1 | -2, msg}]', () => {
    const results: ItemResult[] = [
      { handle: '88.320924.1/a', outcome: 'deleted' },
      { handle: '88.320924.1/b', outcome: 'not-found' },
      { handle: '', outcome: 'invalid', problem: { kind: 'missing-handle' } },
      { handle: '99.1/x', outcome: 'forbidden' },
    ];
    expect(JSON.stringify(batchDeleteData(results))).toBe(
      '[' +
        '{"handle":"88.320924.1/a","code":1,"msg":"success"},' +
        '{"handle":"88.320924.1/b","code":-2,"msg":"标识不存在"},' +
        '{"handle":"","code":-2,"msg":"缺少必要的请求参数: handle"},' +
        '{"handle":"99.1/x","code":-2,"msg":"无权操作该前缀 / no permission for this prefix"}' +
        ']',
    );
  });

  it('single writes: successes return, failures throw the status and message SNMS answers with', () => {
    for (const outcome of ['created', 'unchanged', 'updated'] as const) {
      expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome }, 'create'))).toBe('returned');
    }
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'deleted' }, 'delete'))).toBe('returned');
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'exists' }, 'create'))).toEqual([-2, '标识已存在']);
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'not-found' }, 'update'))).toEqual([-2, '标识不存在']);
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'not-found' }, 'delete'))).toEqual([-2, '没有找到标识']);
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'forbidden' }, 'create'))).toEqual([-3, '无权操作该前缀 / no permission for this prefix']);
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'forbidden' }, 'delete'))).toEqual([-3, '无权操作该前缀 / no permission for this prefix']);
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'invalid', problem: { kind: 'no-template', templateVersion: 'x' } }, 'update'))).toEqual([
      -2,
      '模板不存在 / template not found',
    ]);
    expect(thrown(() => singleWriteResult({ handle: 'h/1', outcome: 'invalid', problem: { kind: 'values', message: '值无效 / bad value' } }, 'create'))).toEqual([
      -2,
      '值无效 / bad value',
    ]);
  });

  it('detail data: code "200", the string values by index (TEMPLATE included), "" without a template', () => {
    const values = [
      value(100, 'HS_ADMIN', { format: 'admin', value: { handle: '0.NA/88.320924.1', index: 300, permissions: '111111111111' } }),
      value(1001, 'TEMPLATE', { format: 'string', value: '1.0' }),
      value(2000, 'name', { format: 'string', value: '泵 "A"' }),
      value(2001, 'BLOB', { format: 'base64', value: 'AAEC' }),
    ];
    expect(JSON.stringify(detailData({ handle: '88.320924.1/Pump', prefix: '88.320924.1', templateVersion: '1.0', values }))).toBe(
      '{"code":"200","prefix":"88.320924.1","handle":"88.320924.1/Pump","templateVersion":"1.0","value":[' +
        '{"index":1001,"type":"TEMPLATE","data":{"format":"string","value":"1.0"}},' +
        '{"index":2000,"type":"name","data":{"format":"string","value":"泵 \\"A\\""}}' +
        ']}',
    );
    expect(JSON.stringify(detailData({ handle: '88.320924.1/plain', prefix: '88.320924.1', templateVersion: null, values: [values[0]!] }))).toBe(
      '{"code":"200","prefix":"88.320924.1","handle":"88.320924.1/plain","templateVersion":"","value":[]}',
    );
  });
});

describe('SNMS prefix shapes', () => {
  const pump: DelegatedPrefix = {
    prefix: '88.320924.1',
    prefixKey: '88.320924.1',
    status: 1,
    createdAt: new Date('2023-05-05T03:00:00Z'),
    updatedAt: new Date('2023-12-31T16:30:00Z'),
    enterpriseId: 7,
    enterpriseName: '江苏射阳泵业有限公司',
    industry: 'C3441',
    address: '射阳县合德镇人民路1号',
  };
  const orphan: DelegatedPrefix = {
    prefix: '88.320924.Tex',
    prefixKey: '88.320924.TEX',
    status: 0,
    createdAt: new Date('2023-05-04T16:00:00Z'),
    updatedAt: new Date('2023-05-04T16:00:00Z'),
    enterpriseId: null,
    enterpriseName: null,
    industry: null,
    address: null,
  };

  it('prefix query data, dates as Shanghai wall-clock time', () => {
    expect(JSON.stringify(prefixDetailData(pump))).toBe(
      '{"prefix":"88.320924.1","createDate":"2023-05-05 11:00:00","ghrName":"国家顶级节点","status":1,"entNameCn":"江苏射阳泵业有限公司",' +
        '"entWebSite":"","entIndustry":"C","entAddrCn":"射阳县合德镇人民路1号","entDesc":""}',
    );
    expect(JSON.stringify(prefixDetailData(orphan))).toBe(
      '{"prefix":"88.320924.Tex","createDate":"2023-05-05 00:00:00","ghrName":"国家顶级节点","status":0,"entNameCn":"","entWebSite":"","entIndustry":"","entAddrCn":"","entDesc":""}',
    );
  });

  it('prefix page data: a Spring page, 0-based number, state 1 only for enabled prefixes', () => {
    expect(JSON.stringify(prefixPageData({ total: 5, page: 2, pageSize: 2, items: [pump, orphan] }))).toBe(
      '{"first":false,"last":false,"totalPages":3,"totalElements":5,"number":1,"size":2,"sort":null,"numberOfElements":2,"content":[' +
        '{"id":7,"createDate":"2023-05-05 11:00:00","updateDate":"2024-01-01 00:30:00","entPrefix":"88.320924.1","entId":7,"state":1,"status":1,"entName":"江苏射阳泵业有限公司","proxyState":1},' +
        '{"id":0,"createDate":"2023-05-05 00:00:00","updateDate":"2023-05-05 00:00:00","entPrefix":"88.320924.Tex","entId":null,"state":0,"status":0,"entName":"","proxyState":1}' +
        ']}',
    );
    expect(JSON.stringify(prefixPageData({ total: 5, page: 3, pageSize: 2, items: [pump] }))).toBe(
      '{"first":false,"last":true,"totalPages":3,"totalElements":5,"number":2,"size":2,"sort":null,"numberOfElements":1,"content":[' +
        '{"id":7,"createDate":"2023-05-05 11:00:00","updateDate":"2024-01-01 00:30:00","entPrefix":"88.320924.1","entId":7,"state":1,"status":1,"entName":"江苏射阳泵业有限公司","proxyState":1}' +
        ']}',
    );
    expect(JSON.stringify(prefixPageData({ total: 0, page: 1, pageSize: 10, items: [] }))).toBe(
      '{"first":true,"last":true,"totalPages":0,"totalElements":0,"number":0,"size":10,"sort":null,"numberOfElements":0,"content":[]}',
    );
  });

  it('Shanghai date and time both ways: a bare end date covers its whole day; bad input is -2 naming the field', () => {
    expect(shanghaiDateTime(new Date('2023-12-31T16:00:00.999Z'))).toBe('2024-01-01 00:00:00');
    expect(parseShanghaiDateTime('2023-05-05 11:00:00', 'startDate', false)?.toISOString()).toBe('2023-05-05T03:00:00.000Z');
    expect(parseShanghaiDateTime(' 2023-05-05T11:00:05 ', 'startDate', false)?.toISOString()).toBe('2023-05-05T03:00:05.000Z');
    expect(parseShanghaiDateTime('2023-05-05', 'startDate', false)?.toISOString()).toBe('2023-05-04T16:00:00.000Z');
    expect(parseShanghaiDateTime('2023-05-05', 'endDate', true)?.toISOString()).toBe('2023-05-05T15:59:59.999Z');
    expect(parseShanghaiDateTime('2023-05-05 11:00', 'endDate', true)?.toISOString()).toBe('2023-05-05T03:00:00.999Z');
    expect(parseShanghaiDateTime(undefined, 'startDate', false)).toBeUndefined();
    expect(parseShanghaiDateTime('', 'startDate', false)).toBeUndefined();
    expect(thrown(() => parseShanghaiDateTime('2023-02-30', 'startDate', false))).toEqual([
      -2,
      'startDate 不是有效时间 / startDate is not a valid date and time: 2023-02-30',
    ]);
    expect(thrown(() => parseShanghaiDateTime('2023-05-05 24:00:00', 'endDate', true))).toEqual([
      -2,
      'endDate 不是有效时间 / endDate is not a valid date and time: 2023-05-05 24:00:00',
    ]);
    expect(thrown(() => parseShanghaiDateTime('yesterday', 'endDate', true))).toEqual([
      -2,
      'endDate 格式应为 yyyy-MM-dd HH:mm:ss / endDate must be yyyy-MM-dd HH:mm:ss: yesterday',
    ]);
  });
});
