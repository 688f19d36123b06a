/**
 * Runs in every test file (vitest `setupFiles`): after the file's own hooks, the
 * temporary directories it made through test/helpers/temp.ts are removed.
 */
import {afterAll} from 'vitest'
import {removeTempDirs} from '../helpers/temp.js'

afterAll(removeTempDirs)
