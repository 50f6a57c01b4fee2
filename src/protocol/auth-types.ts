/**
 * Request and response types of the authentication and user/role methods
 * (issue 12 §2, etcd's auth API). Passwords travel in `auth.authenticate`,
 * `user.add` and `user.passwd` only, and are hashed by the leader before
 * anything is proposed: the log never holds a password.
 */
import type { ResponseHeader } from './types.js';

export interface AuthenticateRequest {
  readonly user: string;
  readonly password: string;
}
/** Every answer that carries nothing but the header. */
export interface AuthOkResponse {
  readonly header: ResponseHeader;
}
export interface UserNameRequest {
  readonly name: string;
}
export interface UserAddRequest {
  readonly name: string;
  /** null: a user without a password (client-certificate login only). */
  readonly password: string | null;
}
export interface UserPasswdRequest {
  readonly name: string;
  readonly password: string | null;
}
export interface UserRoleRequest {
  readonly name: string;
  readonly role: string;
}
export interface UserGetResponse {
  readonly header: ResponseHeader;
  readonly name: string;
  readonly roles: string[];
  readonly hasPassword: boolean;
}
export interface UserListResponse {
  readonly header: ResponseHeader;
  readonly users: string[];
}
export type EmptyRequest = Record<string, never>;
export interface WirePermission {
  readonly access: 'read' | 'write' | 'readwrite';
  readonly key: Uint8Array;
  /** Absent: the one key; [0x00]: every key from `key` on; else [key, rangeEnd). */
  readonly rangeEnd?: Uint8Array;
}
export interface RoleGetResponse {
  readonly header: ResponseHeader;
  readonly name: string;
  readonly permissions: WirePermission[];
}
export interface RoleListResponse {
  readonly header: ResponseHeader;
  readonly roles: string[];
}
export interface RoleGrantPermissionRequest {
  readonly name: string;
  readonly permission: WirePermission;
}
export interface RoleRevokePermissionRequest {
  readonly name: string;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}
export interface AuthStatusResponse {
  readonly header: ResponseHeader;
  readonly enabled: boolean;
  readonly revision: number;
}
