#!/usr/bin/env node
process.stderr.write("queuescale-worker: not built yet\n");
process.exit(1);
