import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Role, SessionInfo, User } from './api/models';

export interface SessionCtx {
  info: SessionInfo;
  refresh: () => Promise<void>;
}

export const Session = createContext<SessionCtx | null>(null);

export function useSession(): SessionCtx {
  const s = useContext(Session);
  if (!s) throw new Error('useSession outside <Session.Provider>');
  return s;
}

export const roleLabel: Record<Role, string> = {
  administrator: 'Administrator',
  organization_owner: 'Organisation owner',
  organization_user: 'Organisation user (read-only)',
};

// What the signed-in principal may do, mirroring the server's rules so the UI does not offer
// buttons that can only fail. The server still decides: this is presentation only.
export function canWrite(info: SessionInfo): boolean {
  if (info.mode === 'studio') return true;
  return info.user?.role === 'organization_owner';
}
export function isAdmin(info: SessionInfo): boolean {
  return info.mode === 'studio' || info.user?.role === 'administrator';
}
export function canManageUsers(info: SessionInfo): boolean {
  return info.mode === 'fleet' && (info.user?.role === 'administrator' || info.user?.role === 'organization_owner');
}
export function currentUser(info: SessionInfo): User | null {
  return info.user;
}
