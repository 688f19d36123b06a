/** Package entry: the oclif run function and the pure core. */
export {run} from '@oclif/core'
export * from './core/index.js'
