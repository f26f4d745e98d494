/* Hand-kept twin of the file `sst deploy` generates: the linked resources' shapes. */
import "sst";
declare module "sst" {
  export interface Resource {
    Packages: { name: string; type: "sst.aws.Dynamo" };
    PublisherState: { name: string; type: "sst.aws.Dynamo" };
    Repository: { name: string; type: "sst.aws.Bucket" };
    SigningKey: { value: string; type: "sst.sst.Secret" };
    Rebuild: { name: string; type: "sst.aws.Function" };
    Poller: { name: string; type: "sst.aws.Function" };
    DeadLetters: { url: string; type: "sst.aws.Queue" };
    Cdn: { url: string; type: "sst.aws.Router" };
  }
}
export {};
