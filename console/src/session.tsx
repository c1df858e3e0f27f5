import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { api, ApiError, setUnauthorizedHandler, type Me } from './api';

const SessionContext = createContext<Me | null>(null);

/** The signed-in user (the app renders its pages only inside a session). */
export function useMe(): Me {
  const me = useContext(SessionContext);
  if (!me) throw new Error('useMe outside a session');
  return me;
}

export function useHasRole(role: 'viewer' | 'responder' | 'operator' | 'admin'): boolean {
  const me = useMe();
  const order = ['viewer', 'responder', 'operator', 'admin'];
  return me.roles.some((r) => order.indexOf(r) >= order.indexOf(role));
}

/** Loads /auth/me with the cookie; no session: to /login, coming back here afterwards. */
export function RequireSession({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const me = useQuery({ queryKey: ['me'], queryFn: () => api<Me>('/auth/me'), retry: false });
  const next = location.pathname + location.search;
  useEffect(() => {
    setUnauthorizedHandler(() => {
      client.clear();
      void navigate(
        `/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`,
        {
          replace: true,
        },
      );
    });
  }, [client, navigate]);
  useEffect(() => {
    if (me.error instanceof ApiError && me.error.status === 401)
      void navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
  }, [me.error, navigate, next]);
  if (me.data) return <SessionContext.Provider value={me.data}>{children}</SessionContext.Provider>;
  if (me.error && !(me.error instanceof ApiError && me.error.status === 401))
    return <p role="alert">Cannot reach Firebreak: {me.error.message}</p>;
  return <p aria-busy="true">Loading…</p>;
}
