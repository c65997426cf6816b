#!/usr/bin/env node
/**
 * tandem-agent: the daemon on every Cassandra, Elasticsearch and file-storage host. It carries
 * out the local steps of a backup when the coordinator asks, over mutual TLS.
 */
import { runAgent } from './daemon';
import { PRODUCTION_ROLES } from './roles/registry';

runAgent(PRODUCTION_ROLES);
