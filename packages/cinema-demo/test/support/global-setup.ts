import { setupTestCluster } from 'txkit/testing';

// Three PostgreSQL servers for the whole run (seats, payments, tickets each get a database on its own server).
export default () => setupTestCluster();
