#!/usr/bin/env node
// A committed entry point, so that `npm ci` links the command before the TypeScript is built.
import "../dist/sim/main.js";
