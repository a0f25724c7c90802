import { type RefObject, useEffect, useState } from 'react';

/**
 * Whether a room is wider than the screen (a phone): then the map scrolls sideways inside its box, starts
 * centred on the middle seats, and says so.
 *
 * @example
 * const overflowing = useCentredOverflow(scrollBoxRef);
 */
export function useCentredOverflow(ref: RefObject<HTMLDivElement | null>): boolean {
  const [overflowing, setOverflowing] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let centred = false;
    const check = () => {
      const wider = el.scrollWidth > el.clientWidth + 1;
      setOverflowing(wider);
      if (wider && !centred) {
        el.scrollLeft = (el.scrollWidth - el.clientWidth) / 2;
        centred = true;
      }
    };
    check();
    const observer = new ResizeObserver(check);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return overflowing;
}
