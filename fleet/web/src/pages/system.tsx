// Instance status for administrators (and the developer in studio mode): what this Fleet is and
// how much it holds.
import { fleet } from '../api/fleet';
import { useSession } from '../session';
import { DefList, ErrorBox, Notice, Page, Section, Spinner, Stat } from '../ui/components';
import { useAsync } from '../ui/hooks';

export function SystemPage() {
  const { info } = useSession();
  const sys = useAsync(() => fleet.system(), []);
  return (
    <Page title="System" help="This Fleet instance: its mode, version, device network and what it holds.">
      {sys.error && <ErrorBox error={sys.error} onRetry={sys.reload} />}
      {!sys.data && !sys.error && <Spinner />}
      {sys.data && (
        <>
          <div class="grid grid-cols-2 gap-4 md:grid-cols-3 xl:grid-cols-6">
            {info.mode === 'fleet' && <Stat label="Organisations" value={sys.data.counts.organizations} />}
            {info.mode === 'fleet' && <Stat label="Users" value={sys.data.counts.users} />}
            <Stat label="Projects" value={sys.data.counts.projects} />
            <Stat label="Deployments" value={sys.data.counts.deployments} />
            <Stat label="Devices" value={sys.data.counts.devices} />
            <Stat label="Releases" value={sys.data.counts.releases} />
          </div>
          <Section title="Instance">
            <DefList
              items={[
                ['Mode', sys.data.mode === 'studio' ? 'Studio (local developer instance, no sign-in)' : 'Fleet (users, organisations, PostgreSQL)'],
                ['Version', sys.data.version],
                ['Device tunnel network', <span class="mono">{sys.data.tunnel_prefix}</span>],
                ["Fleet's own tunnel address", <span class="mono">{sys.data.fleet_tunnel_address}</span>],
              ]}
            />
          </Section>
          {sys.data.mode === 'studio' && (
            <Notice tone="info" title="Studio mode">
              Anyone who can reach this server controls its devices, so it listens on this machine only. For a shared or production
              Fleet, run keel-fleet in fleet mode with PostgreSQL and user accounts.
            </Notice>
          )}
        </>
      )}
    </Page>
  );
}
