import { setupTestCluster } from 'txkit/testing';

export default () => setupTestCluster();
