import type { BookingModeFactory } from '../booking-mode.js';
import { dbosMode } from './dbos.js';
import { localMode } from './local.js';
import { rawSagaMode } from './raw-saga.js';
import { rawTwoPhaseMode } from './raw-two-phase.js';
import { sagaLoggedMode, sagaMode, sagaParallelMode } from './saga.js';
import { sagaFloorMode } from './saga-floor.js';
import { twoPhaseMode, twoPhasePreparedMode, twoPhaseSeparateLogMode } from './two-phase.js';

/** Every mode the library-level bench can run, by its command-line name. */
export const bookingModes: Readonly<Record<string, BookingModeFactory>> = {
  local: localMode,
  '2pc': twoPhaseMode,
  '2pc-separate': twoPhaseSeparateLogMode,
  '2pc-prepared': twoPhasePreparedMode,
  'raw-2pc': rawTwoPhaseMode,
  saga: sagaMode,
  'saga-parallel': sagaParallelMode,
  'saga-logged': sagaLoggedMode,
  'raw-saga': rawSagaMode,
  'saga-floor': sagaFloorMode,
  dbos: dbosMode,
};
