"""`mlflow.pytorch.autolog()` over a small Lightning training, through the unmodified client: what the server
ends up holding (run status, metrics with their histories, params, the logged model and its artifacts)."""

from __future__ import annotations

from typing import Any


def run_lightning_autolog(tracking_uri: str, prefix: str) -> dict[str, Any]:
    import lightning as L
    import mlflow
    import torch
    from mlflow.tracking import MlflowClient
    from torch.utils.data import DataLoader, TensorDataset

    class Regressor(L.LightningModule):
        def __init__(self, lr: float = 0.05) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def training_step(self, batch: Any, _index: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch: Any, _index: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    x = torch.rand(64, 2)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = mlflow.set_experiment(f"{prefix}-lightning")
    mlflow.pytorch.autolog(log_every_n_epoch=1)
    try:
        with mlflow.start_run() as run:
            trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False, accelerator="cpu", devices=1)
            trainer.fit(Regressor(), DataLoader(data, batch_size=16), DataLoader(data, batch_size=32))
    finally:
        mlflow.pytorch.autolog(disable=True)
    got = client.get_run(run.info.run_id)
    models = mlflow.search_logged_models(experiment_ids=[experiment.experiment_id],
                                         filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list")
    histories = {key: [(m.step, round(m.value, 6)) for m in client.get_metric_history(run.info.run_id, key)]
                 for key in sorted(got.data.metrics)}
    loaded = None
    if models:
        model = mlflow.pytorch.load_model(f"models:/{models[0].model_id}")
        loaded = round(float(model(torch.tensor([[1.0, 2.0]])).item()), 6)
    return {
        "status": got.info.status,
        "metrics": sorted(got.data.metrics),
        "history_lengths": {k: len(v) for k, v in histories.items()},
        "params": {k: got.data.params[k] for k in ("lr", "epochs", "optimizer_name") if k in got.data.params},
        "n_params": len(got.data.params),
        "logged_models": len(models),
        "model_ready": str(models[0].status) if models else None,
        "model_artifacts": sorted(a.path for a in client.list_logged_model_artifacts(models[0].model_id))
        if models else [],
        "prediction": loaded,
    }
