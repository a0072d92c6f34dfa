#!/usr/bin/env node
// Starts kinesalite or dynalite (in-memory) bound to one loopback address.
// Their CLIs listen on every interface; Gannet's local stack listens on 127.0.0.1 only.
// Usage: node serve-node.js kinesalite|dynalite PORT [HOST]
'use strict'

const [name, portArg, hostArg] = process.argv.slice(2)
const port = Number(portArg)
const host = hostArg || '127.0.0.1'
if ((name !== 'kinesalite' && name !== 'dynalite') || !Number.isInteger(port) || port <= 0) {
  console.error('usage: serve-node.js kinesalite|dynalite PORT [HOST]')
  process.exit(2)
}

// Small state-transition delays keep CreateStream/CreateTable fast in tests.
const options = name === 'kinesalite'
  ? { createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 100 }
  : { createTableMs: 50, deleteTableMs: 50, updateTableMs: 50 }

const server = require(name)(options)
server.on('error', (err) => {
  console.error(`${name}: ${err.message}`)
  process.exit(1)
})
server.listen(port, host, () => {
  const version = require(`${name}/package.json`).version
  console.log(`${name} ${version} listening on http://${host}:${port}`)
})

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0)) // in-memory store: nothing to flush
}
