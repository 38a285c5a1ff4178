import { useState } from 'preact/hooks';
import { fleet } from '../api/fleet';
import { href, navigate } from '../router';
import { canWrite, isAdmin, useSession } from '../session';
import { DeleteButton, Empty, FormModal, NewNamedForm, Page, PageLoading, Section, TextField } from '../ui/components';
import { DataTable } from '../ui/table';
import { timeAgo } from '../ui/format';
import { useAsync, usePaged } from '../ui/hooks';

export function OrgsPage() {
  const { info } = useSession();
  const list = usePaged((c) => fleet.orgs(c), []);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const admin = isAdmin(info);
  return (
    <Page
      title="Organisations"
      help="Each organisation is a separate customer or team. Its projects, devices and users are invisible to every other organisation."
      actions={admin && <button class="btn-primary" onClick={() => setCreating(true)}>New organisation</button>}
    >
      <Section title="All organisations" flush>
        <DataTable
          list={list}
          head={<><th>Name</th><th>Created</th></>}
          row={(o) => (
            <tr key={o.id}>
              <td><a href={href(`/organizations/${o.id}`)} class="font-medium">{o.name}</a></td>
              <td class="text-slate-500">{timeAgo(o.created_at)}</td>
            </tr>
          )}
          empty={
            <Empty title="No organisations yet" action={admin && <button class="btn-primary" onClick={() => setCreating(true)}>Create the first organisation</button>}>
              Create an organisation, then add its owner in Users. Owners create projects, deployments and devices.
            </Empty>
          }
        />
      </Section>
      {creating && (
        <FormModal
          title="New organisation"
          submitLabel="Create organisation"
          onClose={() => { setCreating(false); setName(''); }}
          onSubmit={async () => {
            const o = await fleet.createOrg(name.trim());
            navigate(`/organizations/${o.id}`);
          }}
        >
          {(fe) => (
            <TextField id="org-name" label="Name" hint="For example the company or team name. You can rename it later." error={fe('name')} value={name} onInput={setName} autoFocus />
          )}
        </FormModal>
      )}
    </Page>
  );
}

export function OrgPage(props: { id: number }) {
  const { info } = useSession();
  const studio = info.mode === 'studio';
  const org = useAsync(() => (studio ? Promise.resolve(null) : fleet.org(props.id)), [props.id, studio]);
  const list = usePaged((c) => fleet.projects(studio ? null : props.id, c), [props.id, studio]);
  const [creating, setCreating] = useState(false);
  const writable = canWrite(info);
  if (org.error) return <PageLoading title="Organisation" state={org} />;
  const title = studio ? 'Projects' : org.data?.name ?? 'Organisation';
  return (
    <Page
      title={title}
      crumbs={studio ? undefined : isAdmin(info) ? [{ label: 'Organisations', href: href('/organizations') }, { label: title }] : undefined}
      help={
        <>A <strong>project</strong> holds one product's software: its signed releases, the keys that sign them, and its deployments
        (groups of devices, e.g. "staging" and "production").</>
      }
      actions={
        <>
          {writable && <button class="btn-primary" onClick={() => setCreating(true)}>New project</button>}
          {!studio && info.user?.role === 'administrator' && org.data && (
            <DeleteButton what={`organisation ${org.data.name}`} consequence="Only an organisation without projects and active users can be deleted." onDelete={() => fleet.deleteOrg(props.id)} onDone={() => navigate('/organizations')} />
          )}
        </>
      }
    >
      <Section title="Projects" flush>
        <DataTable
          list={list}
          head={<><th>Project</th><th>Description</th><th>Created</th></>}
          row={(p) => (
            <tr key={p.id}>
              <td><a href={href(`/projects/${p.id}`)} class="font-medium">{p.name}</a></td>
              <td class="text-slate-600">{p.description || <span class="text-slate-400">—</span>}</td>
              <td class="text-slate-500">{timeAgo(p.created_at)}</td>
            </tr>
          )}
          empty={
            <Empty title="No projects yet" action={writable && <button class="btn-primary" onClick={() => setCreating(true)}>Create a project</button>}>
              {writable ? 'Start with a project for your product. Then add its signing key, a deployment, and devices.' : 'An organisation owner has not created any project yet.'}
            </Empty>
          }
        />
      </Section>
      {creating && (
        <NewNamedForm
          what="project"
          nameHint="Usually the product name, e.g. 'pump-controller'."
          onClose={() => setCreating(false)}
          create={async (name, description) => {
            const p = await fleet.createProject(studio ? null : props.id, name, description);
            navigate(`/projects/${p.id}`);
          }}
        />
      )}
    </Page>
  );
}
