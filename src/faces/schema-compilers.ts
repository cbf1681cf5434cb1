// The schema compilers of every HTTP face: zod request schemas checked without rewriting the request, zod response schemas checked before the route's own payload is serialised exactly as it was sent.
import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import { ResponseSerializationError, validatorCompiler as zodValidator } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isControlFreeBody } from './json-body.js';
import { textIssue } from './text-fields.js';

const checkedByRoute = new WeakSet<z.ZodType>();

/**
 * Marks a request part that the route checks itself, answering a mistake in its face's own format (a Handle
 * responseCode and message, an SNMS status -2 with the reason, all in HTTP 200): the schema documents the part in the
 * OpenAPI document, and fastify hands the part to the route untouched, so fastify's own 400 never pre-empts it — but
 * for the text fields' refinements (text-fields.ts): a control character or NUL where the schema allows none is
 * refused before the route runs, naming the field.
 */
export function routeChecked<T extends z.ZodType>(schema: T): T {
  checkedByRoute.add(schema);
  return schema;
}

function zodSchema(schema: unknown, what: string): z.ZodType {
  const s = schema !== null && typeof schema === 'object' && 'properties' in schema ? (schema as { properties: unknown }).properties : schema;
  if (!(s instanceof z.ZodType)) throw new Error(`${what}: not a zod schema (every face declares its schemas with zod)`);
  return s;
}


/**
 * Request parts: checked with fastify-type-provider-zod's validator (a mismatch becomes fastify's validation error,
 * which the face's error handler answers), but the route gets the request as it came — what zod would strip, coerce
 * or reorder stays as the client sent it. Parts marked `routeChecked` are checked here only for their text fields.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const schema = zodSchema(route.schema, `${route.method} ${route.url} ${route.httpPart ?? 'request'}`);
  if (checkedByRoute.has(schema)) {
    // the route answers every other mistake in its own words; a control character or NUL in a text field is refused
    // here, naming the field, before anything reaches the store
    return (data) => {
      if (isControlFreeBody(data)) return true;
      const r = schema.safeParse(data);
      if (r.success) return true;
      const found = textIssue(r.error.issues as Parameters<typeof textIssue>[0]);
      return found === null ? true : { error: Object.assign(new Error(found), { statusCode: 400 }) };
    };
  }
  const check = zodValidator({ ...route, schema });
  return (data) => {
    const r = check(data) as { error?: Error };
    return r.error === undefined ? true : { error: r.error };
  };
};

/**
 * Response payloads that are not already strings (fastify sends strings as they are): checked against the zod schema
 * of their status (and media type), then serialised with JSON.stringify as the route built them — byte for byte what
 * fastify sends without a schema. A payload the schema does not describe is an error (ResponseSerializationError, a
 * 500 for the face's error handler), never a silently rewritten answer.
 */
export const serializerCompiler: FastifySerializerCompiler<z.ZodType | { properties: z.ZodType }> = (route) => {
  const schema = zodSchema(route.schema, `${route.method} ${route.url} response ${route.httpStatus ?? ''}`);
  return (data) => {
    const r = z.safeEncode(schema, data);
    if (!r.success) throw new ResponseSerializationError(route.method, route.url, { cause: r.error });
    return JSON.stringify(data);
  };
};
