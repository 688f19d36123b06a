/**
 * Side-effect module: sets the process time zone to America/Los_Angeles. Import
 * it FIRST in a test file (ES modules evaluate imports in order), so nothing
 * has read the clock or formatted a date before.
 */
process.env.TZ = 'America/Los_Angeles'
