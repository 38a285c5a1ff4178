import { useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import { fleet } from '../api/fleet';
import type { Release, SigningKey } from '../api/models';
import { href, navigate } from '../router';
import { canWrite, isAdmin, useSession } from '../session';
import { Badge, DeleteButton, Empty, ErrorBox, Field, FormModal, Modal, NewNamedForm, Notice, Page, PageLoading, Section, TextField } from '../ui/components';
import { DataTable, asyncList, type ListState } from '../ui/table';
import { bytes, shortHex, timeAgo } from '../ui/format';
import { useAction, useAsync, useForm, usePaged } from '../ui/hooks';

export function ProjectPage(props: { id: number }) {
  const { info } = useSession();
  const writable = canWrite(info);
  const project = useAsync(() => fleet.project(props.id), [props.id]);
  const org = useAsync(
    () => (project.data && info.mode === 'fleet' ? fleet.org(project.data.organization_id) : Promise.resolve(null)),
    [project.data?.organization_id, info.mode],
  );
  const deployments = usePaged((c) => fleet.deployments(props.id, c), [props.id]);
  const releases = usePaged((c) => fleet.releases(props.id, c), [props.id]);
  const keys = useAsync(() => fleet.keys(props.id), [props.id]);
  const [dialog, setDialog] = useState<null | 'deployment' | 'upload' | 'key'>(null);

  if (project.error || !project.data) return <PageLoading title="Project" state={project} />;
  const p = project.data;
  const activeKeys = (keys.data?.items ?? []).filter((k) => !k.revoked_at);
  const crumbs = info.mode === 'studio'
    ? [{ label: 'Projects', href: href('/') }, { label: p.name }]
    : [
        ...(isAdmin(info) ? [{ label: 'Organisations', href: href('/organizations') }] : []),
        { label: org.data?.name ?? 'Organisation', href: href(`/organizations/${p.organization_id}`) },
        { label: p.name },
      ];

  return (
    <Page
      title={p.name}
      crumbs={crumbs}
      help={p.description || 'Releases, signing keys and deployments of this project.'}
      actions={writable && <DeleteButton what={`project ${p.name}`} consequence="Only a project without deployments and releases can be deleted." onDelete={() => fleet.deleteProject(p.id)} onDone={() => navigate(info.mode === 'studio' ? '/' : `/organizations/${p.organization_id}`)} />}
    >
      {writable && keys.data && activeKeys.length === 0 && (
        <Notice tone="warning" title="Add a signing key before uploading releases">
          Fleet only accepts releases signed by a key of this project. Create a key pair on your own machine with
          <code class="mono"> keel key generate</code>, then add its <em>public</em> key here. The private key never leaves your machine —
          Fleet never asks for it, so even a compromised Fleet server cannot sign software for your devices.
        </Notice>
      )}

      <Section
        title="Deployments"
        help="Groups of devices that run the same release, e.g. 'staging' and 'production'."
        actions={writable && <button class="btn-primary" onClick={() => setDialog('deployment')}>New deployment</button>}
        flush
      >
        <DataTable
          list={deployments}
          head={<><th>Deployment</th><th>Devices</th><th>Description</th><th>Created</th></>}
          row={(d) => (
            <tr key={d.id}>
              <td><a href={href(`/deployments/${d.id}`)} class="font-medium">{d.name}</a></td>
              <td>{d.device_count ?? '—'}</td>
              <td class="text-slate-600">{d.description || <span class="text-slate-400">—</span>}</td>
              <td class="text-slate-500">{timeAgo(d.created_at)}</td>
            </tr>
          )}
          empty={<Empty title="No deployments yet">Create a deployment, then register devices in it.</Empty>}
        />
      </Section>

      <Section
        title="Releases"
        help="Signed software packages built with 'keel release pack' and 'keel release sign'. Fleet checks each signature on upload."
        actions={writable && <button class="btn-primary" onClick={() => setDialog('upload')}>Upload release</button>}
        flush
      >
        <DataTable
          list={releases}
          head={<><th>Release</th><th>Signature</th><th>Size</th><th>Uploaded</th></>}
          row={(r) => (
            <tr key={r.id}>
              <td><a href={href(`/releases/${r.id}`)} class="font-medium">{r.name} {r.version}</a></td>
              <td><SignatureBadge release={r} keys={keys.data?.items ?? []} /></td>
              <td>{bytes(r.file_size)}</td>
              <td class="text-slate-500">{timeAgo(r.created_at)} by {r.created_by}</td>
            </tr>
          )}
          empty={<Empty title="No releases yet">Upload a release file (.krel) signed with one of this project's keys.</Empty>}
        />
      </Section>

      <Section
        title="Signing keys"
        help="Public keys only. A release is accepted when it is signed by one of the keys that are not revoked."
        actions={writable && <button class="btn-secondary" onClick={() => setDialog('key')}>Add public key</button>}
        flush
      >
        <KeyTable keys={asyncList(keys)} writable={writable} projectId={props.id} onChange={keys.reload} />
      </Section>

      {dialog === 'deployment' && <NewDeployment projectId={props.id} onClose={() => setDialog(null)} />}
      {dialog === 'upload' && <UploadRelease projectId={props.id} onClose={() => setDialog(null)} onDone={(id) => navigate(`/releases/${id}`)} />}
      {dialog === 'key' && <AddKey projectId={props.id} onClose={() => setDialog(null)} onDone={keys.reload} />}
    </Page>
  );
}

// Fleet stored the release only after verifying it; what can change later is whether the key that
// signed it is still trusted.
export function SignatureBadge(props: { release: Release; keys: SigningKey[] }) {
  const k = props.keys.find((x) => x.key_id === props.release.signed_by_key_id);
  if (k?.revoked_at) return <Badge tone="amber" title="Verified on upload, but the signing key has been revoked since">Signed · key revoked since</Badge>;
  return <Badge tone="green" title={`Verified on upload; signed by key ${props.release.signed_by_key_id}`}>Signature verified{k ? ` · ${k.name}` : ''}</Badge>;
}

function KeyTable(props: { keys: ListState<SigningKey>; writable: boolean; projectId: number; onChange: () => void }) {
  const action = useAction();
  const revoke = (k: SigningKey) =>
    action.run(`Revoke key "${k.name}"? Releases signed only by this key can no longer be uploaded. Devices are not affected.`, () => fleet.revokeKey(props.projectId, k.id), props.onChange);
  return (
    <>
      {action.error !== null && <div class="p-5"><ErrorBox error={action.error} title="Key not revoked" /></div>}
      <DataTable
        list={props.keys}
        head={<><th>Name</th><th>Key id</th><th>Status</th><th>Added</th>{props.writable && <th />}</>}
        row={(k) => (
          <tr key={k.id}>
            <td class="font-medium">{k.name}</td>
            <td class="mono" title={k.public_key}>{shortHex(k.key_id, 16)}</td>
            <td>{k.revoked_at ? <Badge tone="red">Revoked</Badge> : <Badge tone="green">Trusted</Badge>}</td>
            <td class="text-slate-500">{timeAgo(k.created_at)}</td>
            {props.writable && <td class="text-right">{!k.revoked_at && <button class="btn-ghost text-red-700" onClick={() => void revoke(k)}>Revoke</button>}</td>}
          </tr>
        )}
        empty={<Empty title="No signing keys">Add the public key printed by 'keel key generate'.</Empty>}
      />
    </>
  );
}

function NewDeployment(props: { projectId: number; onClose: () => void }) {
  return (
    <NewNamedForm
      what="deployment"
      nameHint="Where or what the devices are, e.g. 'staging' or 'plant-north'."
      onClose={props.onClose}
      create={async (name, description) => {
        const d = await fleet.createDeployment(props.projectId, name, description);
        navigate(`/deployments/${d.id}`);
      }}
    />
  );
}

function AddKey(props: { projectId: number; onClose: () => void; onDone: () => void }) {
  const [{ name, pub }, set] = useForm({ name: '', pub: '' });
  return (
    <FormModal
      title="Add a public signing key"
      submitLabel="Add key"
      onClose={props.onClose}
      intro={<>Paste the <strong>public</strong> key from <code class="mono">keel key generate</code> (the <code class="mono">.pub</code> file). Never paste a private key anywhere.</>}
      onSubmit={async () => {
        if (/^\s*secret\s*:/m.test(pub) || /PRIVATE KEY/.test(pub)) throw new ApiError(400, 'private_key', 'This looks like a PRIVATE key. Keep it secret and paste the public key (.pub) instead.', 'public_key');
        await fleet.addKey(props.projectId, name.trim(), pub.trim());
        props.onDone();
      }}
    >
      {(fe) => (
        <>
          <TextField id="key-name" label="Name" hint="Who or what holds the private key, e.g. 'release-manager-2026'." error={fe('name')} value={name} onInput={set.name} autoFocus />
          <Field id="key-public" label="Public key" error={fe('public_key')}>
            <textarea id="key-public" class={`input mono ${fe('public_key') ? 'input-error' : ''}`} rows={3} value={pub} onInput={(e) => set.pub((e.target as HTMLTextAreaElement).value)} />
          </Field>
        </>
      )}
    </FormModal>
  );
}

function UploadRelease(props: { projectId: number; onClose: () => void; onDone: (id: number) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<[number, number] | null>(null);
  const action = useAction();
  const err = action.error;
  const upload = (e: Event) => {
    e.preventDefault();
    void action.run(null, async () => {
      if (!file) throw new Error('Choose a release file first.');
      try {
        const r = await fleet.uploadRelease(props.projectId, file, (s, t) => setProgress([s, t]));
        props.onDone(r.id);
      } catch (x) {
        setProgress(null);
        throw x;
      }
    });
  };
  const pct = progress ? Math.round((100 * progress[0]) / Math.max(1, progress[1])) : 0;
  return (
    <Modal title="Upload a release" onClose={props.onClose}>
      <form onSubmit={upload} class="space-y-4">
        <p class="text-sm text-slate-600">
          Build it with <code class="mono">keel release pack</code>, sign it with <code class="mono">keel release sign</code>, then choose the file here.
          Fleet verifies the signature against this project's keys and rejects anything else.
        </p>
        <Field id="release-file" label="Release file">
          <input ref={input} id="release-file" name="release-file" type="file" class="input" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
        </Field>
        {file && <p class="text-sm text-slate-600">{file.name} · {bytes(file.size)}</p>}
        {progress && (
          <div>
            <div class="h-2 w-full overflow-hidden rounded-full bg-slate-200"><div class="h-2 bg-brand-600" style={{ width: `${pct}%` }} /></div>
            <p class="mt-1 text-xs text-slate-500">{pct < 100 ? `Uploading… ${pct}%` : 'Verifying signature…'}</p>
          </div>
        )}
        {err !== null && <ErrorBox error={err} title="Release not accepted" />}
        {err instanceof ApiError && err.code.startsWith('release_') && (
          <p class="text-sm text-slate-600">
            Nothing was stored. Check that the file was signed with <code class="mono">keel release sign</code> by a key listed under "Signing keys" below,
            and that it was not changed after signing.
          </p>
        )}
        <div class="flex justify-end gap-2">
          <button type="button" class="btn-secondary" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="btn-primary" disabled={action.busy}>{action.busy ? 'Uploading…' : 'Upload and verify'}</button>
        </div>
      </form>
    </Modal>
  );
}
