import { fleet } from '../api/fleet';
import { ManifestGraph } from '../graph/ManifestGraph';
import { href, navigate } from '../router';
import { canWrite, useSession } from '../session';
import { Badge, DefList, DeleteButton, Empty, Notice, Page, PageLoading, Section, StatusBadge } from '../ui/components';
import { DataTable } from '../ui/table';
import { bytes, dateTime, plural, shortHex, timeAgo } from '../ui/format';
import { useAsync, usePaged } from '../ui/hooks';
import { useCrumbs } from './crumbs';
import { connectionOf } from './device_state';

export function ReleasePage(props: { id: number }) {
  const { info } = useSession();
  const writable = canWrite(info);
  const rel = useAsync(() => fleet.release(props.id), [props.id]);
  const crumbs = useCrumbs({ projectId: rel.data?.project_id });
  const devices = usePaged((c) => fleet.devices({ release_id: props.id }, c), [props.id]);
  const keys = useAsync(() => (rel.data ? fleet.keys(rel.data.project_id) : Promise.resolve(null)), [rel.data?.project_id]);

  if (rel.error || !rel.data) return <PageLoading title="Release" state={rel} />;
  const r = rel.data;
  const title = `${r.name} ${r.version}`;
  const keyName = (id: string) => keys.data?.items.find((k) => k.key_id === id);
  const signer = keyName(r.signed_by_key_id);
  const stillTrusted = r.signing_key_active !== false;
  return (
    <Page
      title={title}
      crumbs={[...crumbs, { label: title }]}
      help="A signed software package: the system manifest and the component images it names."
      actions={writable && <DeleteButton what={`release ${title}`} consequence="Only a release that no device runs and no rollout or configuration uses can be deleted." onDelete={() => fleet.deleteRelease(r.id)} onDone={() => navigate(`/projects/${r.project_id}`)} />}
    >
      <div class="grid grid-cols-1 gap-6 lg:grid-cols-2">
        <Section title="Signature">
          <div class="space-y-3">
            {stillTrusted ? (
              <Badge tone="green">Signature verified{signer ? ` · signed by ${signer.name}` : ''}</Badge>
            ) : (
              <Badge tone="amber">Verified on upload · signing key revoked since</Badge>
            )}
            {!stillTrusted && (
              <p class="text-sm text-amber-900">
                The key that signed this release is no longer trusted by the project. Devices that still trust it can install it; think twice before rolling it out.
              </p>
            )}
            <div class="overflow-x-auto">
              <table class="table">
                <thead><tr><th>Key</th><th>Trusted by project</th><th>Checked</th></tr></thead>
                <tbody>
                  {r.signatures.map((s) => (
                    <tr key={s.key_id}>
                      <td>{keyName(s.key_id)?.name ?? <span class="text-slate-500">unknown key</span>} <span class="mono text-slate-500">{shortHex(s.key_id, 16)}</span></td>
                      <td>{s.trusted ? 'yes' : 'no'}</td>
                      <td>{s.verified ? <Badge tone="green">valid</Badge> : s.trusted ? <Badge tone="red">invalid</Badge> : <Badge tone="slate">not checked</Badge>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p class="text-xs text-slate-500">
              Fleet checked the signature when the file was uploaded. Devices check it again themselves before installing, so Fleet cannot
              change a release without the device noticing.
            </p>
          </div>
        </Section>
        <Section title="Details">
          <DefList
            items={[
              ['System', r.name],
              ['Version', r.version],
              ['Size', bytes(r.file_size)],
              ['Uploaded', `${dateTime(r.created_at)} by ${r.created_by}`],
              ['Content digest', <span class="mono" title={r.digest}>{shortHex(r.digest, 24)}</span>],
              ['Build', <span class="mono">{r.build_id || '—'}</span>],
              ['Running on', plural(r.device_count ?? 0, 'device')],
            ]}
          />
          <p class="mt-4 text-sm"><a href={`/api/v1/releases/${r.id}/file`} download>Download the signed release file</a></p>
        </Section>
      </div>

      <Section title="Manifest" help="Components of the system and the channels between them.">
        {r.summary && r.summary.parsed !== false ? <ManifestGraph manifest={r.summary} title={`Components and channels of ${title}`} /> : <Notice tone="warning">The manifest in this release is not valid TOML, so Fleet cannot show its structure. The text is below.</Notice>}
        {r.summary && r.summary.configurable.length > 0 && (
          <div class="mt-5">
            <h3 class="mb-2 text-sm font-semibold">Configurable settings</h3>
            <p class="mb-2 text-xs text-slate-500">Only these keys can be set per device or per deployment (overlays).</p>
            <div class="overflow-x-auto">
              <table class="table">
                <thead><tr><th>Component</th><th>Setting</th><th>Type</th></tr></thead>
                <tbody>{r.summary.configurable.map((c) => <tr key={`${c.component}.${c.key}`}><td>{c.component}</td><td class="mono">{c.key}</td><td>{c.type}</td></tr>)}</tbody>
              </table>
            </div>
          </div>
        )}
        {r.manifest && (
          <details class="mt-5">
            <summary class="cursor-pointer text-sm font-medium text-brand-700">Show the manifest as written (TOML)</summary>
            <pre class="mono mt-2 max-h-96 overflow-auto rounded-md bg-slate-900 p-3 text-slate-100">{r.manifest}</pre>
          </details>
        )}
      </Section>

      {r.components && r.components.length > 0 && (
        <Section title="Component images" flush>
          <div class="overflow-x-auto">
            <table class="table">
              <thead><tr><th>Component</th><th>Size</th><th>Hash</th></tr></thead>
              <tbody>{r.components.map((c) => <tr key={c.name}><td class="font-medium">{c.name}</td><td>{bytes(c.size)}</td><td class="mono" title={c.hash}>{c.hash_alg ? `${c.hash_alg}:` : ''}{shortHex(c.hash, 16)}</td></tr>)}</tbody>
            </table>
          </div>
        </Section>
      )}

      <Section title="Devices running this release" flush>
        <DataTable
          list={devices}
          head={<><th>Device</th><th>Connection</th><th>Last seen</th></>}
          row={(d) => (
            <tr key={d.id}>
              <td><a href={href(`/devices/${d.id}`)} class="font-medium">{d.name}</a></td>
              <td><StatusBadge status={connectionOf(d)} /></td>
              <td class="text-slate-500">{timeAgo(d.last_seen_at)}</td>
            </tr>
          )}
          empty={<Empty title="No device runs this release yet">Start a rollout in a deployment to install it.</Empty>}
        />
      </Section>
    </Page>
  );
}
