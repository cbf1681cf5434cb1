// Zod schemas of the proxy face, route by route: the handle path and its query parameters (checked by the route), the redirect, and the page or Handle JSON answers.
import { z } from 'zod';
import { HandleError, param, pathRest, Resolution } from '../handle-rest/schemas.js';
import { AUTH, media, noBody, NoQuery, TAG } from '../openapi.js';

const ProxyQuery = z.looseObject({
  noredirect: param('Show the values instead of redirecting.'),
  urlappend: param('Appended to the URL redirected to.'),
  type: param('Repeatable. Redirect to the first value of these types (default URL, then its subtypes); filters the values shown.'),
  index: param('Repeatable. Only the values at these indexes.'),
});

const Page = z.string().describe('an HTML page');
const failure = (description: string) => media(description, { 'text/html': Page, 'application/json': HandleError });

/** The schema options of each route of the face (proxy.ts passes them to fastify). */
export const PROXY_ROUTES = {
  resolve: {
    schema: {
      tags: [TAG.proxy],
      summary: 'Resolve a handle like a proxy: redirect to its URL',
      description:
        'Redirects (302) to the first URL of the handle\'s public values; with `noredirect` (or when there is none) shows them as a page, or as Handle JSON with `Accept: application/json`. A path of another face (`/api/…`, `/identity/…`, `/operator/…`, `/docs/…`) is never an identifier: an unknown one answers that face\'s 404.',
      security: AUTH.none,
      params: pathRest('handle', 'The handle `prefix/suffix`, percent-encoded as UTF-8.'),
      querystring: ProxyQuery,
      response: {
        200: media('The values', { 'text/html': Page, 'application/json': Resolution }),
        302: noBody('Redirect to the URL (Location), cacheable for the values\' TTL'),
        400: failure('Invalid handle (responseCode 102) or parameter (4)'),
        404: media('No such handle (100), prefix not homed here (301), or no identifier at all; another face\'s unknown path answers its own 404', {
          'text/html': Page,
          'application/json': HandleError,
          'text/plain': z.string(),
        }),
        500: failure('Internal error (responseCode 2)'),
        503: failure('Store unavailable (responseCode 3)'),
      },
    },
  },
};
