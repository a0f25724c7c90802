import type { RecoveryReport } from '../two-phase/resolve-in-doubt.js';
import type { CliSettings } from './cli-config.js';
import type { MigrationResult } from './migrate-command.js';
import { formatAge, formatTable } from './output.js';
import type { ResolveReport } from './resolve-command.js';
import type { StatusReport } from './status-command.js';

// Human-readable renderings of each command's report; `--json` prints the reports themselves.

/** `txkit migrate`. */
export function printMigrations(results: readonly MigrationResult[]): string {
  return formatTable(
    ['COMPONENT', 'DATABASE', 'APPLIED'],
    results.map((r) => [
      r.component,
      r.database,
      r.applied === undefined ? 'up to date' : r.applied.length ? r.applied.join(', ') : 'none (up to date)',
    ]),
  );
}

/** `txkit status`. */
export function printStatus(report: StatusReport, settings: CliSettings): string {
  const parts: string[] = [];
  parts.push(`Prepared transactions (in doubt after ${formatAge(settings.prepareTimeoutMs)}):`);
  parts.push(
    report.prepared.length === 0
      ? '  none'
      : formatTable(
          ['PARTICIPANT', 'STATE', 'AGE', 'DECISION', 'GID'],
          report.prepared.map((p) => [
            p.participant,
            p.attention ? `${p.state} !` : p.state,
            formatAge(p.ageMs),
            p.decision ?? '-',
            p.gid,
          ]),
        ),
  );
  for (const u of report.unreachable) parts.push(`  ! participant ${u.participant} unreachable: ${u.error}`);
  if (report.coordinators.length > 0) {
    const alive = report.coordinators.some((c) => c.alive);
    parts.push('', `Coordinators (a dead one's branches are taken over by a live one's recovery):`);
    parts.push(
      formatTable(
        ['COORDINATOR', 'LEASE', 'PREPARED', 'PROCESS'],
        report.coordinators.map((c) => [
          c.coordinatorId,
          c.alive ? `alive (${formatAge(c.leaseMs)} left)` : `expired ${formatAge(-c.leaseMs)} ago`,
          String(c.prepared),
          c.process,
        ]),
      ),
    );
    if (!alive && report.prepared.length > 0)
      parts.push('  ! no live coordinator: nothing takes over these branches until one runs recovery');
  }
  if (report.decisionLog === 'missing')
    parts.push(`  ! no decision log in schema ${settings.schema} (txkit migrate)`);
  parts.push('', 'Sagas (running, compensating, failed):');
  if (report.sagas === null) parts.push(`  no saga log in schema ${settings.schema}`);
  else if (report.sagas.length === 0) parts.push('  none');
  else {
    parts.push(
      formatTable(
        ['STATUS', 'AGE', 'IDLE', 'NAME', 'STEP', 'OWNER', 'ID', 'WHY'],
        report.sagas.map((s) => [
          s.attention ? `${s.status} !` : s.status,
          formatAge(s.age_ms),
          formatAge(s.idle_ms),
          s.name,
          String(s.step),
          s.lease_expired ? `${s.owner} (lease expired)` : s.owner,
          s.id,
          s.status === 'failed'
            ? `compensation ${s.failed_compensation ?? '?'} gave up (step ${s.failed_step ?? '?'}: ${s.reason ?? '?'})`
            : s.failed_step
              ? `step ${s.failed_step}: ${s.reason ?? '?'}`
              : '',
        ]),
      ),
    );
  }
  parts.push('', report.attention ? 'Needs attention (marked !).' : 'Nothing needs attention.');
  return parts.join('\n');
}

/** `txkit recover`, with errors already turned into messages. */
export function printRecovery(
  report: Omit<RecoveryReport, 'failed' | 'unreachable'> & {
    failed: { gid: string; participant: string; error: string }[];
    unreachable: { participant: string; error: string }[];
  },
): string {
  const lines = [
    `committed: ${report.committed.length}  aborted: ${report.aborted.length}  waiting: ${report.waiting.length}  ` +
      `failed: ${report.failed.length}  decisions deleted: ${report.deletedDecisions}`,
    ...report.committed.map((gid) => `  committed ${gid}`),
    ...report.aborted.map((gid) => `  aborted   ${gid}`),
    ...report.waiting.map((gid) => `  waiting   ${gid} (younger than the prepare timeout)`),
    ...report.takenOver.map((id) => `  took over coordinator ${id} (its lease expired)`),
    ...report.unowned.map((gid) => `  ! unowned ${gid} (its coordinator is not in this decision log)`),
    ...report.failed.map((f) => `  ! failed  ${f.gid} on ${f.participant}: ${f.error}`),
    ...report.unreachable.map((u) => `  ! participant ${u.participant} unreachable: ${u.error}`),
  ];
  return lines.join('\n');
}

/** `txkit resolve`. */
export function printResolve(report: ResolveReport): string {
  const how =
    report.decision === 'existing'
      ? `the log already said ${report.outcome}`
      : report.decision === 'recorded'
        ? `recorded ${report.outcome} in the log`
        : `overrode ${report.previous} with ${report.outcome} in the log (--force)`;
  return [
    `transaction ${report.transactionId}: ${how}`,
    ...report.branches.map(
      (b) => `  ${b.result.padEnd(16)} ${b.gid} on ${b.participant}${b.error ? `: ${b.error}` : ''}`,
    ),
  ].join('\n');
}
