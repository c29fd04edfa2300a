#!/usr/bin/env node
process.stderr.write("queuescale-sim: not built yet\n");
process.exit(1);
