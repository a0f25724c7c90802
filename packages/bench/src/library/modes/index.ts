import type { BookingModeFactory } from '../booking-mode.js';
import { localMode } from './local.js';

/** Every mode the library-level bench can run, by its command-line name. */
export const bookingModes: Readonly<Record<string, BookingModeFactory>> = {
  local: localMode,
};
