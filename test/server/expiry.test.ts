import {expiryAndRotationSuite} from './expiry-cases.js'

expiryAndRotationSuite(`TZ=${process.env.TZ ?? 'unset'}`)
