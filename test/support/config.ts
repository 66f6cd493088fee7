/** The deployment configuration's problems, as the tests read them. */
import { DeploymentConfigError, parseDeploymentConfig } from '../../shared/config/deployment.js';

/** The messages of every problem of a configuration; none when it is valid. */
export function problemsOf(value: unknown): string[] {
  try {
    parseDeploymentConfig(value);
  } catch (error) {
    if (error instanceof DeploymentConfigError) return error.problems.map((p) => p.message);
    throw error;
  }
  return [];
}
