/**
 * Rights of a verified client certificate on the Gearman port, so a network-reachable 4730
 * can be locked down (gearmand has no access control: gearman-spec 2.2, 6.4 #37).
 *
 * File format (JSON):
 *   { "clients": [
 *       { "cn": "worker-eu-1", "rights": ["register"] },
 *       { "fingerprint256": "AB:CD:...", "rights": ["submit", "admin"] },
 *       { "cn": "*", "rights": ["submit"] } ] }
 * The first entry matching the fingerprint wins, then the first matching CN, then `"cn": "*"`.
 * A verified certificate matching nothing gets no rights (it may still ask status and echo).
 */
import { parseJsonText, readSettingsFile } from './json-file.js';
import { colonHex } from './tls.js';

export const GearRights = ['register', 'submit', 'admin'] as const;
export type GearRight = (typeof GearRights)[number];

/** What one connection may do. `admin` = admin commands that change state. */
export interface PeerRights {
  readonly register: boolean;
  readonly submit: boolean;
  readonly admin: boolean;
}

/** Without client verification: workers and clients as in gearmand; admin changes need loopback. */
export const OPEN_RIGHTS: PeerRights = Object.freeze({ register: true, submit: true, admin: false });
export const NO_RIGHTS: PeerRights = Object.freeze({ register: false, submit: false, admin: false });

export class RightsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RightsFileError';
  }
}

const rightsFileError = (message: string) => new RightsFileError(message);

interface Entry {
  readonly cn?: string;
  readonly fingerprint256?: string;
  readonly rights: PeerRights;
}

export interface CertificateIdentity {
  /** Subject common name, when present. */
  readonly cn: string | undefined;
  /** Colon-separated upper-case SHA-256 fingerprint. */
  readonly fingerprint256: string;
}

export class CertificateRights {
  private readonly entries: readonly Entry[];
  constructor(entries: readonly Entry[]) {
    this.entries = entries;
  }

  static parse(text: string, source = 'client rights file'): CertificateRights {
    const json = parseJsonText(text, source, rightsFileError);
    const clients = (json as { clients?: unknown } | null)?.clients;
    if (!Array.isArray(clients)) throw new RightsFileError(`${source}: expected {"clients": [...]}`);
    const entries = clients.map((raw, i): Entry => {
      const where = `${source}: clients[${i}]`;
      if (typeof raw !== 'object' || raw === null) throw new RightsFileError(`${where} must be an object`);
      const { cn, fingerprint256, rights } = raw as Record<string, unknown>;
      if (cn === undefined && fingerprint256 === undefined) throw new RightsFileError(`${where} needs "cn" or "fingerprint256"`);
      if (cn !== undefined && typeof cn !== 'string') throw new RightsFileError(`${where}.cn must be a string`);
      if (fingerprint256 !== undefined && (typeof fingerprint256 !== 'string' || !/^([0-9A-Fa-f]{2}:?){32}$/.test(fingerprint256))) {
        throw new RightsFileError(`${where}.fingerprint256 must be 32 hex bytes (openssl x509 -noout -fingerprint -sha256)`);
      }
      if (!Array.isArray(rights) || rights.some((r) => !GearRights.includes(r as GearRight))) {
        throw new RightsFileError(`${where}.rights must be a list of ${GearRights.join(', ')}`);
      }
      return {
        cn: cn as string | undefined,
        fingerprint256: fingerprint256 === undefined ? undefined : colonHex(fingerprint256 as string),
        rights: { register: rights.includes('register'), submit: rights.includes('submit'), admin: rights.includes('admin') },
      };
    });
    return new CertificateRights(entries);
  }

  static load(file: string): CertificateRights {
    return CertificateRights.parse(readSettingsFile(file, 'the client rights file', rightsFileError), file);
  }

  rightsOf(identity: CertificateIdentity): PeerRights {
    const fp = colonHex(identity.fingerprint256);
    const byFingerprint = this.entries.find((e) => e.fingerprint256 !== undefined && e.fingerprint256 === fp);
    if (byFingerprint) return byFingerprint.rights;
    const byName = identity.cn === undefined ? undefined : this.entries.find((e) => e.cn === identity.cn);
    if (byName) return byName.rights;
    return this.entries.find((e) => e.cn === '*')?.rights ?? NO_RIGHTS;
  }
}
