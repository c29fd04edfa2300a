#!/usr/bin/env node
// Committed so that `npm ci` links the command before `dist/` is built.
import "../dist/main.js";
