// What the node's faces answer, as the console reads it (JSON: dates are ISO strings): enterprises, prefixes, history, templates.

/** One delegated prefix of an enterprise. */
export interface PrefixInfo {
  prefix: string;
  prefixKey: string;
  /** 0 disabled, 1 enabled */
  status: number;
}

/** An enterprise (GET /operator/enterprises, GET /snms/api/v3/ent/mine). */
export interface Enterprise {
  id: number;
  name: string;
  creditCode: string;
  town: string;
  industry: string;
  address: string;
  contactName: string;
  contactPhone: string;
  contactEmail: string | null;
  /** 0 suspended, 1 approved, 2 pending deletion, 3 rejected, 4 pending review, 5 under review */
  status: number;
  statusName?: string;
  /** the rejection or suspension reason */
  reason: string | null;
  reviewedBy?: string | null;
  approvedAt?: string | null;
  createdAt?: string;
  updatedAt?: string;
  prefixes?: PrefixInfo[];
}

/** One event of an application's history, oldest first. */
export interface EnterpriseEvent {
  at: string;
  action: string;
  actor: string;
  status: number | null;
  reason: string | null;
  changes?: Record<string, { from: unknown; to: unknown }>;
}

/** GET /snms/api/v3/ent/mine: the logged-in enterprise account's own enterprise. */
export interface Mine {
  enterprise: Enterprise;
  prefixes: PrefixInfo[];
  history: EnterpriseEvent[];
}

export interface TemplateItem {
  name: string;
  idType: string;
  idIndex: number;
  required: boolean;
  /** 1 enabled, 0 disabled */
  state: number;
  metadata: { type: string; minLength?: number; maxLength?: number };
}

/** GET /snms/api/v5/template?prefix=&version= */
export interface Template {
  prefix: string;
  version: string;
  industryCategory?: string;
  industrySpecific?: string;
  industryTrade?: string;
  industrySubclass?: string;
  type?: number;
  description?: string;
  items: TemplateItem[];
}
