// Migration 002 (frozen): enterprises, delegated prefixes, users, templates, node keys; audit rows for any entity.
import { sql, type Kysely } from 'kysely';

// Frozen once shipped: typed as Kysely<any> so later changes to db.ts cannot change what it does.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('enterprises')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('credit_code', 'text', (c) => c.notNull().unique())
    .addColumn('town', 'text', (c) => c.notNull())
    .addColumn('industry', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('contact_name', 'text', (c) => c.notNull())
    .addColumn('contact_phone', 'text', (c) => c.notNull())
    .addColumn('contact_email', 'text')
    // SNMS prefix status codes: 0 disabled (suspended), 1 enabled (approved), 2 pending deletion, 3 rejected,
    // 4 pending review (applied), 5 under review
    .addColumn('status', 'smallint', (c) => c.notNull().defaultTo(4))
    .addColumn('reason', 'text')
    .addColumn('reviewed_by', 'text')
    .addColumn('approved_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('enterprises_town_status_idx').on('enterprises').columns(['town', 'status']).execute();

  await db.schema
    .createTable('prefixes')
    .addColumn('prefix_key', 'text', (c) => c.primaryKey())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('enterprise_id', 'bigint', (c) => c.references('enterprises.id'))
    // same codes as enterprises.status
    .addColumn('status', 'smallint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('prefixes_enterprise_idx').on('prefixes').column('enterprise_id').execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    // lower-cased username: unique
    .addColumn('username_key', 'text', (c) => c.notNull().unique())
    // scrypt of the password
    .addColumn('password_hash', 'text', (c) => c.notNull())
    // sha256(password) encrypted with the node key: needed to check /identity/token/v1 digests
    .addColumn('password_sha256_enc', 'text', (c) => c.notNull())
    // operator | reviewer | enterprise
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('enterprise_id', 'bigint', (c) => c.references('enterprises.id'))
    .addColumn('disabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('users_enterprise_idx').on('users').column('enterprise_id').execute();

  await db.schema
    .createTable('templates')
    .addColumn('prefix_key', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    // GB/T 4754 industry code, e.g. C3441
    .addColumn('industry', 'text', (c) => c.notNull())
    // SNMS metadata object type: 1 active identification carrier, 2 other
    .addColumn('type', 'smallint', (c) => c.notNull().defaultTo(2))
    .addColumn('description', 'text')
    // [{name, idType, idIndex, required, state, metadata:{type, minLength, maxLength}}]
    .addColumn('items', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('templates_pk', ['prefix_key', 'version'])
    .execute();

  // Secrets the node generates for itself (token signing and credential encryption key).
  await db.schema
    .createTable('node_keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // The audit log covers every entity now: handle rows keep handle/handle_key, others name entity + entity_id.
  await db.schema
    .alterTable('audit_log')
    .addColumn('entity', 'text', (c) => c.notNull().defaultTo('handle'))
    .addColumn('entity_id', 'text')
    .addColumn('enterprise_id', 'bigint')
    .execute();
  await db.schema.alterTable('audit_log').alterColumn('handle', (c) => c.dropNotNull()).execute();
  await db.schema.alterTable('audit_log').alterColumn('handle_key', (c) => c.dropNotNull()).execute();
  await db.schema.createIndex('audit_log_enterprise_at_idx').on('audit_log').columns(['enterprise_id', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_log_enterprise_at_idx').execute();
  await db.schema.alterTable('audit_log').dropColumn('enterprise_id').dropColumn('entity_id').dropColumn('entity').execute();
  await db.schema.dropTable('node_keys').execute();
  await db.schema.dropTable('templates').execute();
  await db.schema.dropTable('users').execute();
  await db.schema.dropTable('prefixes').execute();
  await db.schema.dropTable('enterprises').execute();
}
