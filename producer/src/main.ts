#!/usr/bin/env node
process.stderr.write("queuescale-producer: not built yet\n");
process.exit(1);
