/**
 * The CI provider is decided from the command's own environment record and
 * must match what ci-info itself reports when that environment is the process
 * environment.
 */
import {execFileSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {detectCiVendor} from '../../../src/services/ci/vendor.js'

const ENVS: Array<Record<string, string>> = [
  {},
  {CI: 'true'},
  {CI: 'true', GITHUB_ACTIONS: 'true'},
  {CI: 'false', GITHUB_ACTIONS: 'true'},
  {GITLAB_CI: 'true', CI: 'true'},
  {BUILDKITE: 'true'},
  {CIRCLECI: 'true', CI: 'true'},
  {NODE: '/app/.heroku/node/bin/node'},
  {NODE: '/usr/bin/node'},
  {JENKINS_URL: 'https://ci.example.com', BUILD_ID: '7'},
  {TF_BUILD: 'True', BUILD_BUILDURI: 'vstfs:///Build/Build/1'},
  {GITHUB_ACTIONS: ''},
]

/** ci-info's answer for each environment, each in a fresh load of the module with that process environment. */
function ciInfoAnswers(): Array<{id: string | null; name: string | null}> {
  const script = `
    const envs = JSON.parse(process.argv[1])
    const out = []
    for (const env of envs) {
      for (const k of Object.keys(process.env)) delete process.env[k]
      Object.assign(process.env, env)
      delete require.cache[require.resolve('ci-info')]
      const c = require('ci-info')
      out.push({id: c.id, name: c.name})
    }
    process.stdout.write(JSON.stringify(out))`
  return JSON.parse(execFileSync(process.execPath, ['-e', script, JSON.stringify(ENVS)], {env: {}, encoding: 'utf8'}))
}

describe('CI provider', () => {
  it('is what ci-info reports for the same environment', () => {
    const expected = ciInfoAnswers()
    expect(expected.find((e) => e.id === 'GITHUB_ACTIONS')).toBeDefined()
    expect(ENVS.map((env) => detectCiVendor(env))).toEqual(expected)
  })

  it('comes from the environment given, not the process environment', () => {
    expect(detectCiVendor({GITHUB_ACTIONS: 'true'})).toEqual({id: 'GITHUB_ACTIONS', name: 'GitHub Actions'})
    expect(detectCiVendor({})).toEqual({id: null, name: null})
  })
})
