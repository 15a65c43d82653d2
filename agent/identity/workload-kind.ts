// The values of Endpoint.workloadKind (the schema keeps it a string).
export const workloadKinds = [
  'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod', 'Service', 'Container', 'Process', 'External',
] as const;

export type WorkloadKind = (typeof workloadKinds)[number];
