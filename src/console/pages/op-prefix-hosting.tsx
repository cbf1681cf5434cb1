// Where a delegated prefix is served (on the enterprise page): this node, or the enterprise's own node — shown to reviewers, set by operators.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call, put } from '../api.js';
import { useT } from '../i18n/index.js';
import { ErrorNote, Field, Note, Select, useAction, useLoad } from '../ui.js';

interface Hosting {
  prefix: string;
  mode: 'here' | 'self';
  node: { address: string; tcpPort: number; udpPort: number; httpPort: number | null } | null;
}

const port = (s: string): number | null => (/^\d{1,5}$/.test(s.trim()) ? Number(s.trim()) : null);

export function PrefixHosting(props: { prefix: string; canEdit: boolean }): JSX.Element {
  const t = useT();
  const path = `/operator/prefixes/${encodeURIComponent(props.prefix)}/hosting`;
  const current = useLoad<Hosting>((signal) => call<Hosting>('GET', path, { signal }), [path]);
  const [editing, setEditing] = useState(false);
  const [mode, setMode] = useState<'here' | 'self'>('here');
  const [address, setAddress] = useState('');
  const [tcp, setTcp] = useState('2641');
  const [udp, setUdp] = useState('2641');
  const [http, setHttp] = useState('');
  const [saved, setSaved] = useState(false);

  const start = () => {
    const h = current.data;
    setMode(h?.mode ?? 'here');
    setAddress(h?.node?.address ?? '');
    setTcp(String(h?.node?.tcpPort ?? 2641));
    setUdp(String(h?.node?.udpPort ?? 2641));
    setHttp(h?.node?.httpPort == null ? '' : String(h.node.httpPort));
    setSaved(false);
    setEditing(true);
  };
  const save = useAction(async () => {
    const body =
      mode === 'here'
        ? { mode }
        : { mode, address: address.trim(), tcpPort: port(tcp) ?? -1, udpPort: port(udp) ?? -1, httpPort: http.trim() === '' ? null : (port(http) ?? -1) };
    await put<Hosting>(path, body);
    setEditing(false);
    setSaved(true);
    current.reload();
  });

  const h = current.data;
  return (
    <div class="prefix-hosting" data-testid={`hosting-${props.prefix}`}>
      <ErrorNote error={current.error} />
      {h ? (
        <p>
          {t('host.label')}：
          {h.mode === 'here' ? t('host.here') : t('host.self', { address: h.node!.address, tcp: h.node!.tcpPort, udp: h.node!.udpPort })}
        </p>
      ) : null}
      {saved ? <Note kind="ok">{t('host.saved')}</Note> : null}
      {props.canEdit && h && !editing ? (
        <button type="button" onClick={start}>
          {t('host.change')}
        </button>
      ) : null}
      {editing ? (
        <form
          class="card"
          onSubmit={(ev) => {
            ev.preventDefault();
            void save.run();
          }}
        >
          <h3>{t('host.title', { prefix: props.prefix })}</h3>
          <p class="hint">{t('host.hint')}</p>
          <Select
            label={t('host.mode')}
            name="mode"
            value={mode}
            onChange={(v) => setMode(v === 'self' ? 'self' : 'here')}
            options={[
              { value: 'here', label: t('host.modeHere') },
              { value: 'self', label: t('host.modeSelf') },
            ]}
          />
          {mode === 'self' ? (
            <>
              <Field label={t('host.address')} name="address" value={address} onInput={setAddress} required maxLength={64} hint={t('host.addressHint')} />
              <Field label={t('host.tcpPort')} name="tcpPort" type="number" value={tcp} onInput={setTcp} required />
              <Field label={t('host.udpPort')} name="udpPort" type="number" value={udp} onInput={setUdp} required />
              <Field label={t('host.httpPort')} name="httpPort" type="number" value={http} onInput={setHttp} hint={t('host.httpHint')} />
            </>
          ) : null}
          <ErrorNote error={save.error} />
          <button type="submit" class="primary" disabled={save.busy}>
            {t('host.save')}
          </button>{' '}
          <button type="button" onClick={() => setEditing(false)} disabled={save.busy}>
            {t('host.cancel')}
          </button>
        </form>
      ) : null}
    </div>
  );
}
