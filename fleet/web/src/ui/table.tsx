// One shape for every list a page shows: an error with "Try again", a spinner while the first
// page loads, an empty state that says what to do next, the table, and "Show more" when the list
// is cursor-paginated. Pages give only the columns, one row per item and the empty state. A table
// wider than its container (a phone) scrolls inside it, never the page.
import type { ComponentChildren, JSX } from 'preact';
import { ErrorBox, LoadMore, Spinner } from './components';
import type { Async } from './hooks';

export interface ListState<T> {
  items: T[];
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  hasMore?: boolean;
  more?: () => void;
}

// A whole (unpaginated) list the server returns as {items}, loaded with useAsync.
export function asyncList<T>(a: Async<{ items: T[] }>): ListState<T> {
  return { items: a.data?.items ?? [], error: a.error, loading: a.loading && !a.data, reload: a.reload };
}

export function DataTable<T>(props: {
  list: ListState<T>;
  head: ComponentChildren;
  row: (item: T) => JSX.Element;
  empty: ComponentChildren;
  testId?: string;
  // One card per row on a phone; every cell then needs a data-label (its column's name).
  stack?: boolean;
}) {
  const l = props.list;
  return (
    <>
      {l.error && <div class="p-5"><ErrorBox error={l.error} onRetry={l.reload} /></div>}
      {!l.error && l.loading && l.items.length === 0 && <div class="px-5"><Spinner /></div>}
      {!l.loading && !l.error && l.items.length === 0 && props.empty}
      {l.items.length > 0 && (
        <div class="overflow-x-auto">
          <table class={props.stack ? 'table table-stack' : 'table'} data-testid={props.testId}>
            <thead><tr>{props.head}</tr></thead>
            <tbody>{l.items.map(props.row)}</tbody>
          </table>
        </div>
      )}
      {l.more && <LoadMore hasMore={l.hasMore ?? false} loading={l.loading} onMore={l.more} />}
    </>
  );
}
