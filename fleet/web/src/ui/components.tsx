// The design system: a handful of components every page is built from, so the whole UI speaks
// one visual language. Status is never colour alone (always a word too), every page says in one
// sentence what it is for, and every empty list says what to do next.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fieldMessage } from '../api/client';
import { useAction, useForm } from './hooks';

export function cx(...c: Array<string | false | null | undefined>): string {
  return c.filter(Boolean).join(' ');
}

export interface Crumb {
  label: string;
  href?: string;
}

export function Page(props: { title: string; help?: ComponentChildren; crumbs?: Crumb[]; actions?: ComponentChildren; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Keel Fleet`;
  }, [props.title]);
  return (
    <div class="mx-auto max-w-7xl px-4 py-6 sm:px-6">
      {props.crumbs && props.crumbs.length > 0 && (
        <nav aria-label="Breadcrumb" class="mb-2 text-sm text-slate-500">
          {props.crumbs.map((c, i) => (
            <span key={i}>
              {i > 0 && <span class="mx-1.5 text-slate-400">/</span>}
              {c.href ? <a href={c.href} class="text-slate-600">{c.label}</a> : <span>{c.label}</span>}
            </span>
          ))}
        </nav>
      )}
      <div class="mb-6 flex flex-wrap items-start justify-between gap-4">
        <div class="min-w-0">
          <h1 class="text-2xl font-semibold tracking-tight text-slate-900 break-words">{props.title}</h1>
          {props.help && <p class="mt-1 max-w-3xl text-sm text-slate-600">{props.help}</p>}
        </div>
        {props.actions && <div class="flex flex-wrap gap-2">{props.actions}</div>}
      </div>
      <div class="space-y-6">{props.children}</div>
    </div>
  );
}

// What a page shows while the record it is about loads, or when it could not be loaded.
// A 404 says the record does not exist (trying again would not help).
export function PageLoading(props: { title: string; state: { error: Error | undefined; reload: () => void } }) {
  const e = props.state.error;
  if (e instanceof ApiError && e.isNotFound) {
    const what = props.title.toLowerCase();
    return (
      <Page title={`${props.title} not found`}>
        <Notice tone="warning" title={`This ${what} does not exist`}>
          There is no {what} at this address: it may have been deleted, or it belongs to an organisation you cannot see. <a href="#/">Go to the start page</a>.
        </Notice>
      </Page>
    );
  }
  return <Page title={props.title}>{e ? <ErrorBox error={e} onRetry={props.state.reload} /> : <Spinner />}</Page>;
}

export function Section(props: { title: string; help?: ComponentChildren; actions?: ComponentChildren; children?: ComponentChildren; id?: string; flush?: boolean }) {
  return (
    <section class="card" id={props.id} aria-label={props.title}>
      <header class="flex flex-wrap items-center justify-between gap-3 border-b border-slate-200 px-5 py-3.5">
        <div>
          <h2 class="text-base font-semibold text-slate-900">{props.title}</h2>
          {props.help && <p class="text-xs text-slate-500">{props.help}</p>}
        </div>
        {props.actions && <div class="flex flex-wrap gap-2">{props.actions}</div>}
      </header>
      <div class={props.flush ? 'overflow-x-auto' : 'p-5'}>{props.children}</div>
    </section>
  );
}

type Tone = 'green' | 'red' | 'amber' | 'blue' | 'slate' | 'violet';
const toneClass: Record<Tone, string> = {
  green: 'bg-emerald-50 text-emerald-800 ring-emerald-600/20',
  red: 'bg-red-50 text-red-800 ring-red-600/20',
  amber: 'bg-amber-50 text-amber-800 ring-amber-600/30',
  blue: 'bg-sky-50 text-sky-800 ring-sky-600/20',
  slate: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  violet: 'bg-violet-50 text-violet-800 ring-violet-600/20',
};
const dotClass: Record<Tone, string> = {
  green: 'bg-emerald-500', red: 'bg-red-500', amber: 'bg-amber-500', blue: 'bg-sky-500', slate: 'bg-slate-400', violet: 'bg-violet-500',
};

export function Badge(props: { tone?: Tone; children: ComponentChildren; title?: string; dot?: boolean }) {
  const tone = props.tone ?? 'slate';
  return (
    <span title={props.title} class={cx('inline-flex items-center gap-1.5 rounded-full px-2.5 py-0.5 text-xs font-medium whitespace-nowrap ring-1 ring-inset', toneClass[tone])}>
      {props.dot !== false && <span aria-hidden="true" class={cx('h-1.5 w-1.5 rounded-full', dotClass[tone])} />}
      {props.children}
    </span>
  );
}

// One vocabulary for every status the server reports; unknown values are shown as they are.
const STATUS: Record<string, { tone: Tone; label: string; help: string }> = {
  online: { tone: 'green', label: 'Online', help: 'Connected to Fleet now' },
  connected: { tone: 'green', label: 'Online', help: 'Connected to Fleet now' },
  offline: { tone: 'slate', label: 'Offline', help: 'Not connected; it will be reached when it connects again' },
  disconnected: { tone: 'slate', label: 'Offline', help: 'Not connected; it will be reached when it connects again' },
  never: { tone: 'slate', label: 'No connection recorded', help: 'Fleet has no record of this device connecting (reports sent through the API do not count as a connection)' },
  active: { tone: 'green', label: 'Active', help: 'In service' },
  registered: { tone: 'blue', label: 'Registered', help: 'Known to Fleet, waiting for its first connection' },
  decommissioned: { tone: 'slate', label: 'Decommissioned', help: 'Retired: its keys no longer connect' },
  disabled: { tone: 'slate', label: 'Disabled', help: 'Cannot sign in' },
  invited: { tone: 'blue', label: 'Invited', help: 'Has not accepted the invitation yet' },
  pending: { tone: 'slate', label: 'Waiting', help: 'Not started yet' },
  queued: { tone: 'slate', label: 'Waiting', help: 'Queued for the device' },
  sent: { tone: 'blue', label: 'Sent', help: 'Delivered to the device' },
  running: { tone: 'blue', label: 'In progress', help: 'Being carried out now' },
  in_progress: { tone: 'blue', label: 'In progress', help: 'Being carried out now' },
  updating: { tone: 'blue', label: 'Updating', help: 'Installing a new release' },
  paused: { tone: 'amber', label: 'Paused', help: 'Stopped until someone resumes it' },
  succeeded: { tone: 'green', label: 'Succeeded', help: 'Finished without problems' },
  completed_with_failures: { tone: 'amber', label: 'Finished with failures', help: 'Every batch ran; some devices failed to update' },
  completed: { tone: 'green', label: 'Completed', help: 'Finished' },
  done: { tone: 'green', label: 'Done', help: 'Finished' },
  failed: { tone: 'red', label: 'Failed', help: 'Did not succeed: see the message' },
  aborted: { tone: 'red', label: 'Aborted', help: 'Stopped because too many devices failed' },
  cancelled: { tone: 'slate', label: 'Cancelled', help: 'Stopped by a person' },
  canceled: { tone: 'slate', label: 'Cancelled', help: 'Stopped by a person' },
  skipped: { tone: 'slate', label: 'Skipped', help: 'Not attempted' },
  verified: { tone: 'green', label: 'Signature verified', help: 'Signed by a key this project trusts' },
  revoked: { tone: 'red', label: 'Revoked', help: 'No longer trusted' },
};

export function statusInfo(status: string | null | undefined): { tone: Tone; label: string; help: string } {
  const s = (status ?? '').toLowerCase();
  return STATUS[s] ?? { tone: 'slate', label: s ? s.replace(/_/g, ' ') : 'unknown', help: '' };
}

export function StatusBadge(props: { status: string | null | undefined }) {
  const i = statusInfo(props.status);
  return (
    <Badge tone={i.tone} title={i.help}>
      {i.label}
    </Badge>
  );
}

export function Spinner(props: { label?: string }) {
  return (
    <div role="status" class="flex items-center gap-3 py-6 text-sm text-slate-500">
      <span class="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-brand-700" aria-hidden="true" />
      {props.label ?? 'Loading…'}
    </div>
  );
}

export function ErrorBox(props: { error: unknown; title?: string; onRetry?: () => void }) {
  const e = props.error;
  const msg = e instanceof Error ? e.message : String(e);
  const field = e instanceof ApiError ? e.field : null;
  return (
    <div role="alert" class="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900">
      <div class="font-semibold">{props.title ?? 'Something went wrong'}</div>
      <div class="mt-0.5">
        {msg}
        {field && <span class="text-red-700"> (field: <span class="mono">{field}</span>)</span>}
      </div>
      {props.onRetry && (
        <button type="button" class="mt-2 text-sm font-medium text-red-800 underline" onClick={props.onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Notice(props: { tone?: 'info' | 'warning' | 'danger' | 'success'; title?: string; children?: ComponentChildren }) {
  const t = props.tone ?? 'info';
  const cls = {
    info: 'border-sky-200 bg-sky-50 text-sky-900',
    warning: 'border-amber-300 bg-amber-50 text-amber-900',
    danger: 'border-red-300 bg-red-50 text-red-900',
    success: 'border-emerald-200 bg-emerald-50 text-emerald-900',
  }[t];
  return (
    <div role={t === 'danger' || t === 'warning' ? 'alert' : 'note'} class={cx('rounded-md border px-4 py-3 text-sm', cls)}>
      {props.title && <div class="font-semibold">{props.title}</div>}
      <div>{props.children}</div>
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren; action?: ComponentChildren }) {
  return (
    <div class="px-6 py-10 text-center">
      <div class="text-sm font-semibold text-slate-800">{props.title}</div>
      {props.children && <p class="mx-auto mt-1 max-w-md text-sm text-slate-500">{props.children}</p>}
      {props.action && <div class="mt-4 flex justify-center">{props.action}</div>}
    </div>
  );
}

export function Field(props: { label: string; hint?: ComponentChildren; error?: string | null; children: ComponentChildren; id: string }) {
  return (
    <div>
      <label class="label" for={props.id}>
        {props.label}
      </label>
      {props.children}
      {props.error ? (
        <p class="mt-1 text-xs font-medium text-red-700" id={`${props.id}-error`}>
          {props.error}
        </p>
      ) : (
        props.hint && <p class="hint">{props.hint}</p>
      )}
    </div>
  );
}

// A dialog: Escape or a click outside closes it, Tab stays inside it, and when it closes the focus
// goes back to what opened it (keyboard users continue where they were).
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [props.onClose]);
  // What had the focus when the dialog was first rendered (before anything in it took the focus).
  const opener = useRef(document.activeElement);
  useEffect(() => {
    if (box.current && !box.current.contains(document.activeElement)) box.current.focus();
    const back = opener.current;
    return () => {
      if (back instanceof HTMLElement && back.isConnected) back.focus();
    };
  }, []);
  const trapTab = (e: KeyboardEvent) => {
    if (e.key !== 'Tab' || !box.current) return;
    const all = [...box.current.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')].filter((el) => !(el as HTMLButtonElement).disabled);
    const first = all[0], last = all.at(-1);
    if (!first || !last) return;
    if (e.shiftKey && (document.activeElement === first || document.activeElement === box.current)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <div class="fixed inset-0 z-40 flex items-start justify-center overflow-y-auto bg-slate-900/40 px-4 py-16" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div ref={box} tabIndex={-1} onKeyDown={trapTab} role="dialog" aria-modal="true" aria-label={props.title} class={cx('card w-full shadow-xl focus:outline-none', props.wide ? 'max-w-3xl' : 'max-w-lg')}>
        <header class="flex items-center justify-between border-b border-slate-200 px-5 py-3.5">
          <h2 class="text-base font-semibold">{props.title}</h2>
          <button type="button" class="btn-ghost px-2 py-1" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        <div class="p-5">{props.children}</div>
      </div>
    </div>
  );
}

// A question before a change that cannot be taken back (restarting a device or a component): what
// will happen, Cancel — focused first, the safe choice — and the action. The server's refusal is
// shown in place.
export function ConfirmModal(props: {
  title: string;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
  onDone?: () => void;
  danger?: boolean;
  children: ComponentChildren;
}) {
  const act = useAction();
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <div class="space-y-4">
        <div class="text-sm text-slate-700">{props.children}</div>
        {act.error !== null && <ErrorBox error={act.error} title="Not done" />}
        <div class="flex justify-end gap-2 pt-2">
          <button ref={cancel} type="button" class="btn-secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="button"
            class={props.danger ? 'btn-danger' : 'btn-primary'}
            disabled={act.busy}
            onClick={() => void act.run(null, props.onConfirm, () => {
              props.onDone?.();
              props.onClose();
            })}
          >
            {act.busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </div>
    </Modal>
  );
}

// The message of a server error that names a form field, for that field (null otherwise).
export function fieldErrorOf(err: unknown): (name: string) => string | null {
  return (name) => (err instanceof ApiError && err.field === name ? fieldMessage(err.message, name) : null);
}

// The id a form's select names, or a field error saying what to choose.
export function chosenId(value: string, message: string, field: string): number {
  const id = Number(value);
  if (!id) throw new ApiError(400, 'missing', message, field);
  return id;
}

// A form's error that names no field (those are shown next to their field instead).
export function FormError(props: { error: unknown; title: string }) {
  const e = props.error;
  if (e === null || (e instanceof ApiError && e.field)) return null;
  return <ErrorBox error={e} title={props.title} />;
}

// A form inside a modal: submit → fn; the server's error is shown in place, next to the field it
// names when it names one.
export function FormModal(props: {
  title: string;
  submitLabel: string;
  onClose: () => void;
  onSubmit: () => Promise<void>;
  children: (fieldError: (name: string) => string | null) => ComponentChildren;
  danger?: boolean;
  intro?: ComponentChildren;
}) {
  const save = useAction();
  const err = save.error;
  const submit = (e: JSX.TargetedEvent<HTMLFormElement, Event>) => {
    e.preventDefault();
    void save.run(null, props.onSubmit, props.onClose);
  };
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <form onSubmit={submit} class="space-y-4" noValidate>
        {props.intro && <div class="text-sm text-slate-600">{props.intro}</div>}
        {props.children(fieldErrorOf(err))}
        <FormError error={err} title="Not saved" />
        {err instanceof ApiError && err.field && <p class="text-sm text-red-700">Not saved: please correct the highlighted field.</p>}
        <div class="flex justify-end gap-2 pt-2">
          <button type="button" class="btn-secondary" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'btn-danger' : 'btn-primary'} disabled={save.busy}>
            {save.busy ? 'Working…' : props.submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

// "New project" / "New deployment": a name and an optional description.
export function NewNamedForm(props: { what: string; nameHint: string; onClose: () => void; create: (name: string, description: string) => Promise<void> }) {
  const [{ name, desc }, set] = useForm({ name: '', desc: '' });
  const id = props.what;
  return (
    <FormModal title={`New ${props.what}`} submitLabel={`Create ${props.what}`} onClose={props.onClose} onSubmit={() => props.create(name.trim(), desc.trim())}>
      {(fe) => (
        <>
          <TextField id={`${id}-name`} label="Name" hint={props.nameHint} error={fe('name')} value={name} onInput={set.name} autoFocus />
          <TextField id={`${id}-description`} label="Description (optional)" error={fe('description')} value={desc} onInput={set.desc} />
        </>
      )}
    </FormModal>
  );
}

interface TextInputProps { id: string; value: string; onInput: (v: string) => void; error?: string | null; placeholder?: string; type?: string; autoFocus?: boolean; required?: boolean; autocomplete?: string; mono?: boolean }

// A labelled text input: its label, hint and the server's error for it in one place.
export function TextField(props: TextInputProps & { label: string; hint?: ComponentChildren }) {
  const { label, hint, ...input } = props;
  return (
    <Field id={props.id} label={label} hint={hint} error={props.error}>
      <TextInput {...input} />
    </Field>
  );
}

export function TextInput(props: TextInputProps) {
  return (
    <input
      id={props.id}
      name={props.id}
      type={props.type ?? 'text'}
      class={cx('input', props.error && 'input-error', props.mono && 'mono')}
      value={props.value}
      placeholder={props.placeholder}
      autoFocus={props.autoFocus}
      required={props.required}
      autocomplete={props.autocomplete}
      aria-invalid={props.error ? true : undefined}
      aria-describedby={props.error ? `${props.id}-error` : undefined}
      onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
    />
  );
}

export function Stat(props: { label: string; value: ComponentChildren; hint?: string }) {
  return (
    <div class="card px-5 py-4">
      <div class="text-xs font-medium tracking-wide text-slate-500 uppercase">{props.label}</div>
      <div class="mt-1 text-2xl font-semibold text-slate-900">{props.value}</div>
      {props.hint && <div class="mt-0.5 text-xs text-slate-500">{props.hint}</div>}
    </div>
  );
}

export function DefList(props: { items: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="grid grid-cols-1 gap-x-6 gap-y-3 sm:grid-cols-[max-content_1fr]">
      {props.items.map(([k, v]) => (
        <>
          <dt class="text-sm font-medium text-slate-500">{k}</dt>
          <dd class="text-sm break-all text-slate-900">{v}</dd>
        </>
      ))}
    </dl>
  );
}

export function ProgressBar(props: { parts: Array<{ value: number; tone: Tone; label: string }>; total: number }) {
  const total = Math.max(1, props.total);
  return (
    <div>
      <div class="flex h-3 w-full overflow-hidden rounded-full bg-slate-200" role="img" aria-label={props.parts.map((p) => `${p.value} ${p.label}`).join(', ')}>
        {props.parts.map((p, i) => (
          <div key={i} class={dotClass[p.tone]} style={{ width: `${(100 * p.value) / total}%` }} />
        ))}
      </div>
      <div class="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600">
        {props.parts.map((p, i) => (
          <span key={i} class="inline-flex items-center gap-1.5">
            <span class={cx('h-2 w-2 rounded-full', dotClass[p.tone])} aria-hidden="true" />
            {p.value} {p.label}
          </span>
        ))}
      </div>
    </div>
  );
}

// Cursor pagination footer.
export function LoadMore(props: { hasMore: boolean; loading: boolean; onMore: () => void }) {
  if (!props.hasMore) return null;
  return (
    <div class="flex justify-center border-t border-slate-100 py-3">
      <button type="button" class="btn-secondary" disabled={props.loading} onClick={props.onMore}>
        {props.loading ? 'Loading…' : 'Show more'}
      </button>
    </div>
  );
}

// A delete button that asks first and shows the server's refusal (e.g. "still has devices") in
// place instead of failing silently.
export function DeleteButton(props: { what: string; consequence: string; onDelete: () => Promise<void>; onDone: () => void }) {
  const del = useAction();
  return (
    <>
      <button
        type="button"
        class="btn-secondary text-red-700"
        disabled={del.busy}
        onClick={() => void del.run(`Delete ${props.what}? ${props.consequence}`, props.onDelete, props.onDone)}
      >
        Delete
      </button>
      {del.error !== null && (
        <Modal title="Not deleted" onClose={del.clear}>
          <ErrorBox error={del.error} title={`${props.what} was not deleted`} />
        </Modal>
      )}
    </>
  );
}

// A public key: pasted (a base64 line, or a whole multi-line Keel `.pub` file as `keel key
// generate` writes it) or read from a chosen `.pub` file. The text is sent as it is (outer
// whitespace trimmed by the caller); the server parses both forms, exactly as the CLI does.
export function KeyField(props: { id: string; label: string; hint?: ComponentChildren; error?: string | null; value: string; onInput: (v: string) => void }) {
  const [readError, setReadError] = useState<string | null>(null);
  const pick = async (e: JSX.TargetedEvent<HTMLInputElement, Event>) => {
    const input = e.currentTarget;
    const file = input.files?.[0];
    if (!file) return;
    try {
      if (file.size > 64 * 1024) throw new Error(`${file.name} is ${file.size} bytes: too large to be a public key file.`);
      props.onInput(await file.text());
      setReadError(null);
    } catch (err) {
      setReadError(err instanceof Error ? err.message : String(err));
    } finally {
      input.value = ''; // choosing the same file again reads it again
    }
  };
  const error = readError ?? props.error;
  return (
    <Field
      id={props.id}
      label={props.label}
      error={error}
      hint={props.hint ?? <>Paste the key or the whole <span class="mono">.pub</span> file, or choose the file.</>}
    >
      <textarea
        id={props.id}
        name={props.id}
        rows={3}
        spellcheck={false}
        class={cx('input mono', error && 'input-error')}
        value={props.value}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${props.id}-error` : undefined}
        onInput={(e) => props.onInput((e.target as HTMLTextAreaElement).value)}
      />
      <label class="mt-1.5 inline-flex cursor-pointer items-center gap-2 text-xs font-medium text-brand-700">
        <input type="file" accept=".pub,text/plain" class="sr-only" aria-label={`${props.label} file`} onChange={(e) => void pick(e)} />
        <span class="underline">Choose a .pub file…</span>
      </label>
    </Field>
  );
}
