/**
 * Which CI provider a job runs on, decided from the command's environment
 * record with ci-info's vendor table (`ci-info/vendors.json`) and the same
 * rules as ci-info. ci-info's own exports are computed from `process.env`
 * once, when it is first imported; this reads the environment it is given, so
 * a command sees its own environment (Deps), wherever it runs.
 */
import {createRequire} from 'node:module'
import type {Env} from '../../lib/io.js'

/** One environment condition of ci-info's vendor table. */
type EnvCondition = string | {env: string; includes: string} | {any: string[]} | Record<string, string>

/** A row of ci-info's vendor table. */
interface Vendor {
  name: string
  constant: string
  env: EnvCondition | EnvCondition[]
}

const vendors = createRequire(import.meta.url)('ci-info/vendors.json') as Vendor[]

/** The CI provider: ci-info's vendor id (e.g. `GITHUB_ACTIONS`) and name, or nulls outside CI. */
export interface CiVendor {
  id: string | null
  name: string | null
}

/**
 * The CI provider of `env`, as ci-info would report it for that environment:
 * none when `CI` is `false`; otherwise the last vendor in the table whose
 * conditions all hold (a variable set and non-empty; a variable containing a
 * text; any of several variables set; variables with given values).
 */
export function detectCiVendor(env: Env): CiVendor {
  let found: CiVendor = {id: null, name: null}
  if (env.CI === 'false') return found
  for (const vendor of vendors) {
    const conditions = Array.isArray(vendor.env) ? vendor.env : [vendor.env]
    if (conditions.every((c) => holds(c, env))) found = {id: vendor.constant, name: vendor.name}
  }
  return found
}

function holds(condition: EnvCondition, env: Env): boolean {
  if (typeof condition === 'string') return Boolean(env[condition])
  if ('env' in condition && 'includes' in condition) return Boolean(env[condition.env]?.includes(condition.includes))
  if ('any' in condition && Array.isArray(condition.any)) return condition.any.some((k) => Boolean(env[k]))
  return Object.entries(condition as Record<string, string>).every(([k, v]) => env[k] === v)
}
