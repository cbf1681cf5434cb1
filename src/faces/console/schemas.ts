// Zod schemas of the console face: the console's page (at / and /console/) and its hashed assets.
import { z } from 'zod';
import { AUTH, media, NoQuery, TAG } from '../openapi.js';

const Page = z.string().describe('an HTML page');

const page = (summary: string) => ({
  schema: {
    tags: [TAG.console],
    summary,
    description:
      '网页控制台（中文优先，可切换英文）：任何人可查询标识；企业申请入驻、管理模板与标识；运营与审核人员审核企业、管理账号、查看审计日志、计划进度与节点状态。它只调用本文档中的公开接口，权限相同。\n\n' +
      'The web console (Chinese first, English switchable): anyone resolves identifiers; enterprises apply, manage templates and identifiers; operators and reviewers review enterprises, manage accounts, read the audit log, the plan\'s progress and the node\'s health. It calls only the public endpoints in this document, with the same authorization.',
    security: AUTH.none,
    querystring: NoQuery,
    response: { 200: media('The console\'s page (a single-page app; its routes are in the fragment, #/…)', { 'text/html': Page }) },
  },
});

/** The schema options of each route of the face. */
export const CONSOLE_ROUTES = {
  home: page('The web console (the node\'s home page)'),
  console: page('The web console'),
  asset: {
    schema: {
      tags: [TAG.console],
      summary: 'A file of the console (script, stylesheet), named by its content\'s hash',
      description:
        'Cached for a year and never revalidated (`Cache-Control: public, max-age=31536000, immutable`): a new build has new names. Sent Brotli- or gzip-compressed when the client accepts it. Nothing outside the console\'s assets folder is served.',
      security: AUTH.none,
      params: z.object({ '*': z.string().max(200).meta({ title: 'file', description: 'The file name, e.g. `index-3f2a1b.js`.' }) }),
      querystring: NoQuery,
      response: {
        200: media('The file', { 'application/javascript': z.string(), 'text/css': z.string() }),
        404: media('No such file', { 'text/plain': z.string() }),
      },
    },
  },
};
