/** MLflow's error codes (databricks.proto) that the registry answers with. */
export type RegistryErrorCode =
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'ENDPOINT_NOT_FOUND'
  | 'BAD_REQUEST'
  | 'INTERNAL_ERROR';

/** HTTP status per code, as MLflow's server maps them (mlflow/exceptions.py). */
export const REGISTRY_HTTP_STATUS: Record<RegistryErrorCode, number> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  BAD_REQUEST: 400,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  INTERNAL_ERROR: 500,
};

/** The one error the registry throws; the HTTP layer sends `{error_code, message}` with its status. */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }

  get httpStatus(): number {
    return REGISTRY_HTTP_STATUS[this.code];
  }
}

export const invalidParam = (message: string): RegistryError => new RegistryError('INVALID_PARAMETER_VALUE', message);
export const doesNotExist = (message: string): RegistryError => new RegistryError('RESOURCE_DOES_NOT_EXIST', message);
export const alreadyExists = (message: string): RegistryError => new RegistryError('RESOURCE_ALREADY_EXISTS', message);
