#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).
import { main } from "../dist/src/cli/fitToysMerge.js";
await main(process.argv);
