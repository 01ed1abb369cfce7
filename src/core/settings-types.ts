/**
 * The typed form of QMserv.cfg (SPEC §5). Every field has its default in the
 * KEYS table of settings.ts, where `loadSettings` fills it from the file and
 * the environment.
 */
export type LaunchType = 'blocking' | 'non-blocking';
export type WatchMode = 'events' | 'polling';
export type OnWorkerLoss = 'lost+found' | 'requeue';
export type ShutdownMode = 'wait' | 'requeue';

export interface ServerSettings {
  /** Absolute path of the folder holding QM_qJobs, QM_Jobs, QM_dJobs, QM_lost+found. */
  qmFolder: string;
  /** Processor budget of one worker (sum of nb_proc of its running jobs). */
  maxNbProcessors: number;
  launchType: LaunchType;
  /** Descriptor file name; its extension (.cfg or .xml) selects the format. */
  jobFile: string;
  mailActive: boolean;
  debug: boolean;
  /** Empty: embedded redis-server under QM_FOLDER/.qm. */
  redisUrl: string;
  /** Seconds a job tree must stay unchanged before it is taken. */
  settleTime: number;
  watchMode: WatchMode;
  /** Seconds between scans in polling mode. */
  pollInterval: number;
  /** Pin each job to nb_proc CPUs; undefined = automatic (on when the budget fits the CPUs). */
  pinCpus: boolean | undefined;
  /** CPUs this worker owns (e.g. "0-7"); empty = all the CPUs the process may use. */
  cpus: string;
  /** GPU ids this worker hands out (SPEC §8); undefined = those `nvidia-smi -L` lists (none without it). */
  gpus: string[] | undefined;
  /** Memory pool of this worker, MB; undefined = the machine's physical memory. */
  memoryMb: number | undefined;
  /** Seconds between SIGTERM and SIGKILL. */
  killGrace: number;
  onWorkerLoss: OnWorkerLoss;
  /** Done-job records kept in Redis (the folders always stay). */
  keepDone: number;
  /** What a worker does with running jobs on SIGTERM/SIGINT. */
  shutdown: ShutdownMode;
  /** Name of this worker in records and logs; default host:pid. */
  workerName: string;
}

export interface WebSettings {
  host: string;
  port: number;
  refreshRate: number;
  displayDetails: boolean;
  deleteJobs: boolean;
  licenceToKill: boolean;
  debug: boolean;
  user: string;
  password: string;
}

export interface MailSettings {
  smtpUrl: string;
  from: string;
}

export interface Settings {
  /** Absolute path of the config file read, or undefined when none existed. */
  configPath: string | undefined;
  server: ServerSettings;
  web: WebSettings;
  mail: MailSettings;
}
