// The console's pages: path, who may open them, the navigation label, and the component.
import type { FunctionComponent } from 'preact';
import type { Role } from './session.js';
import Apply from './pages/apply.js';
import EntIdentifiers from './pages/ent-identifiers.js';
import EntTemplates from './pages/ent-templates.js';
import EntUpload from './pages/ent-upload.js';
import Health from './pages/health.js';
import Login from './pages/login.js';
import MyApplication from './pages/my-application.js';
import OpAccounts from './pages/op-accounts.js';
import OpAudit from './pages/op-audit.js';
import OpEnterprise from './pages/op-enterprise.js';
import OpQueue from './pages/op-queue.js';
import Plan from './pages/plan.js';
import Resolve from './pages/resolve.js';

export interface PageRoute {
  path: string;
  component: FunctionComponent;
  /** null: anyone, logged in or not */
  roles: Role[] | null;
  /** the navigation label's key; absent: not in the navigation */
  nav?: string;
  /** in the navigation only while logged out */
  anonymousOnly?: boolean;
}

export const ROUTES: PageRoute[] = [
  { path: '/', component: Resolve, roles: null, nav: 'nav.resolve' },
  { path: '/apply', component: Apply, roles: null, nav: 'nav.apply', anonymousOnly: true },
  { path: '/login', component: Login, roles: null },
  { path: '/my', component: MyApplication, roles: ['enterprise'], nav: 'nav.myApplication' },
  { path: '/ent/templates', component: EntTemplates, roles: ['enterprise'], nav: 'nav.templates' },
  { path: '/ent/identifiers', component: EntIdentifiers, roles: ['enterprise'], nav: 'nav.identifiers' },
  { path: '/ent/upload', component: EntUpload, roles: ['enterprise'], nav: 'nav.upload' },
  { path: '/op/queue', component: OpQueue, roles: ['operator', 'reviewer'], nav: 'nav.queue' },
  { path: '/op/enterprise', component: OpEnterprise, roles: ['operator', 'reviewer'] },
  { path: '/op/accounts', component: OpAccounts, roles: ['operator'], nav: 'nav.accounts' },
  { path: '/op/audit', component: OpAudit, roles: ['operator'], nav: 'nav.audit' },
  { path: '/plan', component: Plan, roles: ['operator', 'reviewer'], nav: 'nav.plan' },
  { path: '/health', component: Health, roles: ['operator'], nav: 'nav.health' },
];
