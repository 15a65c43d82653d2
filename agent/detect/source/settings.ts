// The config file's detector sections (`detectors.<kind>: { enabled, window,
// knobs… }`) turned into detector configs: a knob is taken when the detector
// has a setting of that name (after renames) and the same type; others are
// left to their defaults.

/** One detector section as the config file gives it. */
export type DetectorSettingsInput = { enabled?: boolean; [knob: string]: number | boolean | undefined };
export type DetectorsSettingsInput = Partial<Record<string, DetectorSettingsInput>>;

/** Config-file knob names that differ from the detectors' own. */
const RENAMES: Record<string, string> = { window: 'windowMs', factorOverBaseline: 'baselineFactor' };

export function settingsFor<T extends object>(defaults: T, section: DetectorSettingsInput | undefined, extraRenames: Record<string, string[]> = {}): Partial<T> {
  const out: Record<string, unknown> = {};
  if (!section) return out as Partial<T>;
  for (const [knob, value] of Object.entries(section)) {
    if (value === undefined) continue;
    for (const key of extraRenames[knob] ?? [RENAMES[knob] ?? knob]) {
      if (key in defaults && typeof (defaults as Record<string, unknown>)[key] === typeof value) out[key] = value;
    }
  }
  return out as Partial<T>;
}
