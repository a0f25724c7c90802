import { setupTestCluster } from '../../src/testing/index.js';

// Three PostgreSQL servers for the whole run, published to the test workers through the environment.
export default () => setupTestCluster();
