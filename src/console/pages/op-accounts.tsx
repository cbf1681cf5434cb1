// The op-accounts page (to be written).
import type { JSX } from 'preact';
import { useT } from '../i18n/index.js';
import { Page } from '../ui.js';

export default function Stub(): JSX.Element {
  const t = useT();
  return <Page title={t('nav.resolve')}>…</Page>;
}
