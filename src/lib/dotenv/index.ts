/**
 * The `.env` editor: a pure line-level layer (scan, quote, edit) and a file
 * layer (locked, atomic, mode- and owner-preserving writes).
 */
export {BOM, type DotenvAssignment, type DotenvScan, detectLineTerminator, type LineTerminator, scanDotenv} from './scan.js'
export {type DotenvQuoting, PLAIN_VALUE_PATTERN, quoteDotenvValue, UNWRITABLE_VALUE_PATTERN} from './quote.js'
export {DOTENV_NAME_PATTERN, type DotenvChange, readLfLines, readVariable, setVariable, type SetVariableResult, verifyEdit} from './edit.js'
export {
  decodeDotenv,
  NEW_DOTENV_MODE,
  readDotenvVariable,
  type WriteDotenvOptions,
  type WriteDotenvResult,
  writeDotenvVariable,
} from './file.js'
