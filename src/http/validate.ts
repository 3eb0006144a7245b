// Checks a JSON request body against its schema in api-schemas.ts (Ajv, JSON Schema 2020-12) and says what is
// wrong in one line a person can act on ("minutes: must be integer or string").

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { BODY_SCHEMAS, type BodySchemaName } from './api-schemas.js';

const ajv = new Ajv2020({ strict: true, allErrors: false, allowUnionTypes: true });
const compiled = new Map<BodySchemaName, ValidateFunction>();

function validator(name: BodySchemaName): ValidateFunction {
  let v = compiled.get(name);
  if (!v) compiled.set(name, (v = ajv.compile(BODY_SCHEMAS[name])));
  return v;
}

export function describe(e: ErrorObject): string {
  const where = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') return `${(e.params as { missingProperty: string }).missingProperty}: required`;
  if (e.keyword === 'type') return `${where || 'body'}: must be ${String((e.params as { type: string | string[] }).type).replace(/,/g, ' or ')}`;
  if (e.keyword === 'enum') return `${where}: one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${where || 'body'}: ${e.message ?? 'invalid'}`;
}

/** Null when `value` fits the schema, else what is wrong. */
export function checkBody(name: BodySchemaName, value: unknown): string | null {
  const v = validator(name);
  return v(value) ? null : describe(v.errors![0]!);
}

/** Parses a body as a JSON object and checks it; the object, or what is wrong. */
export function readBody(name: BodySchemaName, body: string | undefined): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return 'send a JSON object';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'send a JSON object';
  return checkBody(name, parsed) ?? (parsed as Record<string, unknown>);
}
