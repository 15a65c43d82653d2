import { formatChecks, runDoctorChecks } from '../doctor/doctor.js';

export async function runDoctor(values: Record<string, unknown>): Promise<number> {
  const results = await runDoctorChecks();
  console.log(formatChecks(results, process.stdout.isTTY === true && values['no-color'] !== true));
  return results.every((r) => r.ok || r.optional) ? 0 : 1;
}
