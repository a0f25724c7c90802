/**
 * `txkit/testing`: real-PostgreSQL test harness and fault injection for txkit users' own tests.
 *
 * Every public export is listed here by name; nothing else is part of the API.
 * @packageDocumentation
 */
export {
  type FaultHook,
  type FaultPoint,
  type FaultSite,
  isSimulatedCrash,
  type OutboxFaultPoint,
  type SagaFaultPoint,
  SimulatedCrash,
  type TwoPhaseFaultPoint,
} from '../faults.js';
export {
  FaultPlan,
  type FaultSpec,
  type FiredFault,
  InjectedFailure,
  SAGA_FAULT_POINTS,
  TWO_PHASE_FAULT_POINTS,
} from './fault-plan.js';
export {
  type FaultProxy,
  type FaultProxyStats,
  type StartFaultProxyOptions,
  startFaultProxy,
} from './fault-proxy.js';
export type { FaultProxyDirection, FaultProxyMode, FaultProxyModeInput } from './fault-proxy-mode.js';
export {
  type FaultSchedulePlayback,
  type FaultScheduleStep,
  playFaultSchedule,
  type RandomFaultScheduleOptions,
  randomFaultSchedule,
} from './fault-schedule.js';
export { type Leftovers, listLeftovers, listUnfinishedSagas, type UnfinishedSaga } from './leftovers.js';
export {
  clusterFromDescription,
  clusterFromUrls,
  describeCluster,
  type PostgresCluster,
  type StartPostgresClusterOptions,
  setupTestCluster,
  startPostgresCluster,
  TEST_CLUSTER_ENV,
  TEST_PG_URLS_ENV,
  testCluster,
} from './postgres-cluster.js';
export {
  connectionString,
  defaultTestSettings,
  PostgresInstance,
  type PostgresInstanceInfo,
} from './postgres-instance.js';
export {
  listPreparedTransactions,
  type PreparedTransaction,
  rollbackPreparedTransactions,
} from './prepared-transactions.js';
export { assertRabbitMqReachable, testAmqpUrl } from './rabbitmq.js';
export { createTestDatabases, type TestDatabase, type TestDatabases } from './test-databases.js';
